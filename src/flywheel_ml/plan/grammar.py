"""Parsing of objectives (``accuracy max``) and constraints (``latency_p95_ms < 10``)."""

from __future__ import annotations

import math
import re
from typing import cast

from flywheel_ml.errors import InvalidInputError
from flywheel_ml.plan.entities import Constraint, Objective, Op
from flywheel_ml.plan.metrics import KNOWN_METRICS, Direction, is_known, known_names

_CONSTRAINT_RE = re.compile(
    r"^\s*(?P<metric>[A-Za-z_][A-Za-z0-9_]*)\s*(?P<op><=|>=|==|<|>)\s*(?P<value>[^\s]+)\s*$"
)
_OBJECTIVE_RE = re.compile(r"^\s*(?P<metric>[A-Za-z_][A-Za-z0-9_]*)(?:\s+(?P<dir>\w+))?\s*$")
_DIRECTION_WORDS: dict[str, Direction] = {
    "max": "max",
    "maximize": "max",
    "maximise": "max",
    "higher": "max",
    "min": "min",
    "minimize": "min",
    "minimise": "min",
    "lower": "min",
}


def _check_metric(metric: str, text: str) -> None:
    if not is_known(metric):
        raise InvalidInputError(
            f"unknown metric {metric!r} in {text!r}", hint=f"use one of: {known_names()}"
        )


def parse_constraint(text: str) -> Constraint:
    """Parse ``<metric> <op> <number>`` with op one of ``< <= > >= ==``.

    Raises:
        InvalidInputError: malformed text, an unknown metric or a value that is not a finite number.

    >>> parse_constraint("latency_p95_ms < 10")
    Constraint(metric='latency_p95_ms', op='<', value=10.0)
    """
    match = _CONSTRAINT_RE.match(text)
    if match is None:
        raise InvalidInputError(
            f"malformed constraint {text!r}",
            hint="write '<metric> <op> <number>' with op one of < <= > >= ==, "
            "e.g. 'latency_p95_ms < 10'",
        )
    metric = match["metric"]
    _check_metric(metric, text)
    try:
        value = float(match["value"])
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise InvalidInputError(
            f"constraint {text!r} needs a finite number on the right, not {match['value']!r}",
            hint="e.g. 'model_mb < 50'",
        )
    return Constraint(metric=metric, op=cast(Op, match["op"]), value=value)


def parse_objective(text: str) -> Objective:
    """Parse ``<metric> [max|min]``; the direction defaults to the metric's natural one.

    Raises:
        InvalidInputError: malformed text, an unknown metric or an unknown direction.

    >>> parse_objective("accuracy max")
    Objective(metric='accuracy', direction='max')
    """
    match = _OBJECTIVE_RE.match(text)
    if match is None:
        raise InvalidInputError(
            f"malformed objective {text!r}", hint="write '<metric> max' or '<metric> min'"
        )
    metric = match["metric"]
    _check_metric(metric, text)
    word = (match["dir"] or KNOWN_METRICS[metric][0]).lower()
    if word not in _DIRECTION_WORDS:
        raise InvalidInputError(
            f"unknown direction {match['dir']!r} in objective {text!r}",
            hint="use 'max' or 'min'",
        )
    return Objective(metric=metric, direction=_DIRECTION_WORDS[word])
