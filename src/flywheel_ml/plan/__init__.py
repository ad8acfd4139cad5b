"""plan — the project page: problem, value, feasibility, one objective, satisficing constraints."""

from flywheel_ml.plan.entities import (
    Constraint,
    ConstraintCheck,
    Objective,
    PageCheck,
    PageRevision,
    ProjectPage,
    Verdict,
)
from flywheel_ml.plan.gates import rank_key, satisfies
from flywheel_ml.plan.grammar import parse_constraint, parse_objective
from flywheel_ml.plan.metrics import KNOWN_METRICS, direction_of
from flywheel_ml.plan.stage import PlanStage
from flywheel_ml.plan.store import PlanStore

__all__ = [
    "KNOWN_METRICS",
    "Constraint",
    "ConstraintCheck",
    "Objective",
    "PageCheck",
    "PageRevision",
    "PlanStage",
    "PlanStore",
    "ProjectPage",
    "Verdict",
    "direction_of",
    "parse_constraint",
    "parse_objective",
    "rank_key",
    "satisfies",
]
