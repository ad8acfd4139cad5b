"""Pure judgements of metrics against the project page, used by leaderboards and release gates."""

from __future__ import annotations

import math
from collections.abc import Mapping

from flywheel_ml.plan.entities import ConstraintCheck, Objective, ProjectPage, Verdict


def satisfies(page: ProjectPage, metrics: Mapping[str, float]) -> Verdict:
    """Judge ``metrics`` against the page's objective and every constraint.

    A constraint whose metric is absent (or NaN) from ``metrics`` is *unmeasured*, and an
    unmeasured constraint is not passed: a gate must see evidence, not the lack of it.

    >>> from flywheel_ml.plan.grammar import parse_constraint, parse_objective
    >>> page = ProjectPage(objective=parse_objective("accuracy max"),
    ...                    constraints=(parse_constraint("model_mb < 50"),))
    >>> satisfies(page, {"accuracy": 0.97, "model_mb": 12.0}).passed
    True
    """
    checks = tuple(
        ConstraintCheck(constraint=c, measured=_measured(metrics, c.metric))
        for c in page.constraints
    )
    objective_value = None if page.objective is None else _measured(metrics, page.objective.metric)
    return Verdict(objective=page.objective, objective_value=objective_value, checks=checks)


def rank_key(objective: Objective, verdict: Verdict) -> tuple[int, float]:
    """A sort key that puts passing entries first, then the best objective value first."""
    value = verdict.objective_value
    if value is None:
        return (2, 0.0)
    signed = -value if objective.direction == "max" else value
    return (0 if verdict.passed else 1, signed)


def _measured(metrics: Mapping[str, float], name: str) -> float | None:
    value = metrics.get(name)
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value
