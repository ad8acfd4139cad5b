"""track — experiment tracking: runs with params, metric curves, artifacts, models, lineage.

Reach it as ``ws.track``; the names here are for typing and for code that loads models without
a workspace (the registry stage uses :func:`load_model`).
"""

from flywheel_ml.track.buffer import Batch, MetricBuffer
from flywheel_ml.track.entities import (
    RUN_STATUSES,
    Artifact,
    Comparison,
    LeaderboardEntry,
    Lineage,
    MetricSeries,
    MetricSummary,
    Run,
    RunStatus,
)
from flywheel_ml.track.models import SavedModel, load_model, save_model, untrusted_types
from flywheel_ml.track.query import RunQuery, parse_query
from flywheel_ml.track.run import ActiveRun
from flywheel_ml.track.sklearn import fit
from flywheel_ml.track.stage import RUN_ID_ENV, TrackStage
from flywheel_ml.track.store import TrackStore

__all__ = [
    "RUN_ID_ENV",
    "RUN_STATUSES",
    "ActiveRun",
    "Artifact",
    "Batch",
    "Comparison",
    "LeaderboardEntry",
    "Lineage",
    "MetricBuffer",
    "MetricSeries",
    "MetricSummary",
    "Run",
    "RunQuery",
    "RunStatus",
    "SavedModel",
    "TrackStage",
    "TrackStore",
    "fit",
    "load_model",
    "parse_query",
    "save_model",
    "untrusted_types",
]
