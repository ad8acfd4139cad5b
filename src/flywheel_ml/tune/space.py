"""Search spaces: sampling a trial's parameters, and narrowing a space around the best trials
(the coarse-to-fine step)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import optuna

Space = Mapping[str, Mapping[str, Any]]
"""Parameter name -> ``{"kind": "int"|"float", "low", "high", "log"}`` or
``{"kind": "choice", "choices": [...]}``."""


def suggest(trial: optuna.Trial, space: Space) -> dict[str, Any]:
    """The trial's parameters, sampled from ``space``."""
    params: dict[str, Any] = {}
    for name, spec in space.items():
        kind = spec["kind"]
        if kind == "choice":
            params[name] = trial.suggest_categorical(name, list(spec["choices"]))
        elif kind == "int":
            params[name] = trial.suggest_int(
                name, int(spec["low"]), int(spec["high"]), log=bool(spec.get("log"))
            )
        else:
            params[name] = trial.suggest_float(
                name, float(spec["low"]), float(spec["high"]), log=bool(spec.get("log"))
            )
    return params


def narrow(
    space: Space, best: Sequence[Mapping[str, Any]], *, margin: float = 0.1
) -> dict[str, dict[str, Any]]:
    """The region of ``space`` spanned by the ``best`` trials' parameters, widened by
    ``margin`` of the original range on each side (on the log scale for log axes) and clipped
    to the original bounds. Choices are kept whole: Optuna needs a parameter's choices to stay
    the same within a study, and the fine stage's sampler favours the good ones by itself.
    """
    narrowed: dict[str, dict[str, Any]] = {}
    for name, spec in space.items():
        values = [b[name] for b in best if name in b]
        if spec["kind"] == "choice" or not values:
            narrowed[name] = dict(spec)
            continue
        log = bool(spec.get("log"))

        def to(v: float, log: bool = log) -> float:
            return math.log(v) if log else float(v)

        def back(v: float, log: bool = log) -> float:
            return math.exp(v) if log else v

        low0, high0 = to(spec["low"]), to(spec["high"])
        pad = (high0 - low0) * margin
        low = max(low0, min(to(v) for v in values) - pad)
        high = min(high0, max(to(v) for v in values) + pad)
        lo, hi = back(low), back(high)
        if spec["kind"] == "int":
            lo_i = max(int(spec["low"]), math.floor(lo))
            hi_i = min(int(spec["high"]), math.ceil(hi))
            if lo_i >= hi_i:
                lo_i, hi_i = max(int(spec["low"]), lo_i - 1), min(int(spec["high"]), hi_i + 1)
            narrowed[name] = {**spec, "low": lo_i, "high": hi_i}
        else:
            lo = max(float(spec["low"]), lo)
            hi = min(float(spec["high"]), hi)
            if lo >= hi:
                lo, hi = float(spec["low"]), float(spec["high"])
            narrowed[name] = {**spec, "low": lo, "high": hi}
    return narrowed
