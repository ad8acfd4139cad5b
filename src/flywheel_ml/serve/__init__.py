"""serve — deployments (champion, canary, shadow, promote, rollback) and the prediction log."""

from flywheel_ml.serve.entities import (
    Deployment,
    DeploymentMove,
    Disagreement,
    Route,
    ServeStatus,
    parse_ref,
)
from flywheel_ml.serve.predictors import (
    EstimatorPredictor,
    ModelResolver,
    NoRegistryResolver,
    Predictor,
    ProbabilisticPredictor,
)
from flywheel_ml.serve.predlog import LogEntry, PredictionLog, read_predictions
from flywheel_ml.serve.rollout import bucket, route
from flywheel_ml.serve.stage import GatewaySync, ServeStage
from flywheel_ml.serve.store import DeploymentStore, GatewayRecord

__all__ = [
    "Deployment",
    "DeploymentMove",
    "DeploymentStore",
    "Disagreement",
    "EstimatorPredictor",
    "GatewayRecord",
    "GatewaySync",
    "LogEntry",
    "ModelResolver",
    "NoRegistryResolver",
    "PredictionLog",
    "Predictor",
    "ProbabilisticPredictor",
    "Route",
    "ServeStage",
    "ServeStatus",
    "bucket",
    "parse_ref",
    "read_predictions",
    "route",
]
