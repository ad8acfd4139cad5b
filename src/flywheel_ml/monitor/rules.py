"""The rule grammar: ``METRIC [(ARGS)] OP NUMBER[UNIT] [over DURATION]``.

Metrics:

* ``psi(feature=NAME)`` / ``psi(feature=*)`` — PSI of one feature / the largest over features;
  ``psi(prediction)`` — PSI of the predicted classes against the reference labels.
* ``shift(feature=NAME|*)`` — Wasserstein distance in reference SDs.
* ``drifted`` — how many features the drift test flags.
* ``age(ALIAS)`` — days since the version the alias names was registered (staleness);
  the threshold takes a unit: ``30d``, ``12h``.
* ``live_accuracy`` — accuracy on logged predictions whose delayed labels arrived.
* ``disagreement(canary|shadow)`` — share of rows where it answered differently.

``over 7d`` sets the window of logged rows (default 24 h; 7 d for ``live_accuracy``).

>>> parse_rule("psi(feature=*) > 0.2").metric
'psi'
>>> parse_rule("age(champion) > 30d").threshold
30.0
>>> parse_rule("live_accuracy < 0.9 over 7d").window_s
604800.0
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass

from flywheel_ml.errors import InvalidInputError

METRICS = ("psi", "shift", "drifted", "age", "live_accuracy", "disagreement")

_RULE_RE = re.compile(
    r"^\s*(?P<metric>[a-z_]+)\s*(?:\(\s*(?P<args>[^)]*)\))?\s*(?P<op>>=|<=|>|<)\s*"
    r"(?P<num>-?\d+(?:\.\d+)?)\s*(?P<unit>[smhd])?\s*(?:over\s+(?P<win>\d+(?:\.\d+)?)\s*"
    r"(?P<winunit>[smhd]))?\s*$"
)
_SECONDS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le,
}  # fmt: skip
_HINT = (
    "write e.g. 'psi(feature=*) > 0.2', 'age(champion) > 30d', "
    "'live_accuracy < 0.9 over 7d', 'drifted >= 3', 'disagreement(canary) > 0.1'"
)


@dataclass(frozen=True, slots=True)
class ParsedRule:
    """A rule's parts.

    Attributes:
        metric: one of :data:`METRICS`.
        target: the feature name, ``*``, ``prediction``, an alias, ``canary``/``shadow``, or ''.
        op: the comparison.
        threshold: the number (days for ``age``).
        window_s: the window of logged rows in seconds.
    """

    metric: str
    target: str
    op: str
    threshold: float
    window_s: float

    def holds(self, value: float) -> bool:
        """Whether ``value`` meets the condition (the rule fires)."""
        return _OPS[self.op](value, self.threshold)

    def describe(self, value: float) -> str:
        """One line: the measured value against the condition."""
        what = self.metric if not self.target else f"{self.metric}({self.target})"
        unit = "d" if self.metric == "age" else ""
        return f"{what} = {value:.4g}{unit} {self.op} {self.threshold:g}{unit}"


def parse_rule(text: str) -> ParsedRule:
    """Parse a rule expression.

    Raises:
        InvalidInputError: the text does not follow the grammar.
    """
    match = _RULE_RE.match(text or "")
    if match is None:
        raise InvalidInputError(f"cannot parse rule {text[:200]!r}", hint=_HINT)
    metric, args = match["metric"], (match["args"] or "").strip()
    if metric not in METRICS:
        raise InvalidInputError(f"unknown metric {metric!r} in rule {text!r}", hint=_HINT)
    target = _target(metric, args, text)
    threshold = float(match["num"])
    unit = match["unit"]
    if metric == "age":
        threshold = threshold * _SECONDS[unit or "d"] / 86400.0
    elif unit is not None:
        raise InvalidInputError(f"{metric} takes no unit (rule {text!r})", hint=_HINT)
    default_window = 7 * 86400.0 if metric == "live_accuracy" else 86400.0
    window = (
        default_window if match["win"] is None
        else float(match["win"]) * _SECONDS[match["winunit"]]
    )  # fmt: skip
    if window <= 0:
        raise InvalidInputError(f"the window of {text!r} must be positive", hint="e.g. over 7d")
    return ParsedRule(metric, target, match["op"], threshold, window)


def _target(metric: str, args: str, text: str) -> str:
    if metric in ("psi", "shift"):
        if args == "prediction" and metric == "psi":
            return "prediction"
        m = re.fullmatch(r"feature\s*=\s*([A-Za-z0-9_.*\-]+)", args)
        if m is None:
            raise InvalidInputError(
                f"{metric} needs (feature=NAME) or (feature=*) in {text!r}", hint=_HINT
            )
        return m[1]
    if metric == "age":
        if not re.fullmatch(r"[a-z][a-z0-9_-]{0,39}", args):
            raise InvalidInputError(
                f"age needs an alias, e.g. age(champion), in {text!r}", hint=_HINT
            )
        return args
    if metric == "disagreement":
        if args not in ("canary", "shadow"):
            raise InvalidInputError(
                f"disagreement needs (canary) or (shadow) in {text!r}", hint=_HINT
            )
        return args
    if args:
        raise InvalidInputError(f"{metric} takes no arguments in {text!r}", hint=_HINT)
    return ""
