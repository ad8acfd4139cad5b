"""tune — baselines, config-file experiments, overfit check, learning curves, bias/variance
diagnosis and coarse-to-fine search (Optuna, local processes or Dask).

Reach it as ``ws.tune``; configs are read with :func:`load_config`.
"""

from flywheel_ml.tune.configs import EXAMPLE_CONFIG, ExperimentConfig, load_config, parse_config
from flywheel_ml.tune.entities import (
    CurvePoint,
    Diagnosis,
    LearningCurve,
    OverfitCheck,
    StudyInfo,
)
from flywheel_ml.tune.stage import TuneStage
from flywheel_ml.tune.store import TuneStore

__all__ = [
    "EXAMPLE_CONFIG",
    "CurvePoint",
    "Diagnosis",
    "ExperimentConfig",
    "LearningCurve",
    "OverfitCheck",
    "StudyInfo",
    "TuneStage",
    "TuneStore",
    "load_config",
    "parse_config",
]
