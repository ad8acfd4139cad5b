"""registry — model versions in safe formats, gated sealed-test evaluation, aliases with history."""

from flywheel_ml.registry.aliases import NEEDS_EVALUATION
from flywheel_ml.registry.entities import (
    AliasMove,
    BehaviourCase,
    ConstraintResult,
    Evaluation,
    GateResult,
    ModelVersion,
)
from flywheel_ml.registry.evaluation import EvaluationOptions, SealedData
from flywheel_ml.registry.gates import REJECT, judge_case, no_regression
from flywheel_ml.registry.stage import RegistryStage, RunSource
from flywheel_ml.registry.store import RegistryStore
from flywheel_ml.registry.versions import ModelRef, parse_model_ref

__all__ = [
    "NEEDS_EVALUATION",
    "REJECT",
    "AliasMove",
    "BehaviourCase",
    "ConstraintResult",
    "Evaluation",
    "EvaluationOptions",
    "GateResult",
    "ModelRef",
    "ModelVersion",
    "RegistryStage",
    "RegistryStore",
    "RunSource",
    "SealedData",
    "judge_case",
    "no_regression",
    "parse_model_ref",
]
