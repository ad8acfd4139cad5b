"""Accuracy per slice with bootstrap confidence intervals; slices too small to judge are marked.

A slice is a saved filter of the data stage, the items of one true class, or a named extra test
set. The point estimate is scikit-learn's ``accuracy_score``; the interval is the percentile
bootstrap of it (resampling the slice's rows with replacement, vectorised over all resamples).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from flywheel_ml.analyze.entities import SliceKind, SliceResult
from flywheel_ml.analyze.scoring import Scored
from flywheel_ml.data.slices import evaluate

DEFAULT_MIN_ROWS = 30
DEFAULT_RESAMPLES = 1000


def bootstrap_interval(
    correct: npt.NDArray[np.bool_],
    *,
    level: float = 0.95,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> tuple[float, float]:
    """The percentile bootstrap interval of accuracy over rows whose correctness is given.

    >>> lo, hi = bootstrap_interval(np.array([True] * 90 + [False] * 10))
    >>> 0.83 < lo < 0.9 < hi < 0.96
    True
    """
    n = len(correct)
    if n == 0:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, n, size=(resamples, n))
    # Accuracy of each resample: the share of correct rows it drew.
    scores = correct[picks].mean(axis=1)
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(scores, [tail, 1.0 - tail])
    return float(low), float(high)


def slice_result(
    name: str,
    kind: SliceKind,
    where: str,
    y_true: npt.NDArray[np.str_],
    y_pred: npt.NDArray[np.str_],
    *,
    overall: float,
    min_rows: int = DEFAULT_MIN_ROWS,
    level: float = 0.95,
    seed: int = 0,
) -> SliceResult:
    """Accuracy, its bootstrap interval and the delta to ``overall`` for one slice's rows."""
    from sklearn.metrics import accuracy_score

    rows = len(y_true)
    if rows == 0:
        return SliceResult(name, kind, where, 0, None, None, None, True, None)
    accuracy = float(accuracy_score(y_true, y_pred))
    low, high = bootstrap_interval(y_true == y_pred, level=level, seed=seed)
    return SliceResult(
        name=name, kind=kind, where=where, rows=rows, accuracy=accuracy,
        ci_low=low, ci_high=high, too_small=rows < min_rows, delta=accuracy - overall,
    )  # fmt: skip


def slice_results(
    scored: Scored,
    filters: Sequence[tuple[str, str]],
    *,
    min_rows: int = DEFAULT_MIN_ROWS,
    level: float = 0.95,
    with_classes: bool = True,
) -> list[SliceResult]:
    """Every saved filter ``(name, where)`` and (``with_classes``) every true class, worst first.

    Slices that are too small are listed after the judged ones.

    Raises:
        InvalidInputError: a filter names a column the data lacks.
    """
    from sklearn.metrics import accuracy_score

    overall = float(accuracy_score(scored.y_true, scored.y_pred))
    found: list[SliceResult] = []
    for name, where in filters:
        mask = evaluate(where, scored.frame).to_numpy(dtype=bool)
        found.append(
            slice_result(
                name,
                "slice",
                where,
                scored.y_true[mask],
                scored.y_pred[mask],
                overall=overall,
                min_rows=min_rows,
                level=level,
            )
        )
    if with_classes:
        for label in sorted(set(scored.y_true.tolist()), key=_natural):
            mask = scored.y_true == label
            found.append(
                slice_result(
                    f"class {label}",
                    "class",
                    f"label == {label!r}",
                    scored.y_true[mask],
                    scored.y_pred[mask],
                    overall=overall,
                    min_rows=min_rows,
                    level=level,
                )
            )
    return sorted(found, key=worst_first)


def worst_first(result: SliceResult) -> tuple[bool, float, str]:
    """Sort key: judged slices before too-small ones, lowest accuracy first."""
    accuracy = result.accuracy if result.accuracy is not None else float("inf")
    return (result.too_small, accuracy, result.name)


def _natural(text: str) -> tuple[int, float, str]:
    try:
        return (0, float(text), text)
    except ValueError:
        return (1, 0.0, text)
