"""data — versioned datasets, stable splits, the sealed test set, checks, slices."""

from flywheel_ml.data.entities import (
    SPLITS,
    CheckReport,
    Dataset,
    DatasetVersion,
    DataSlice,
    Finding,
    SealedRead,
    SplitPolicy,
    VersionDiff,
)
from flywheel_ml.data.splits import split_of
from flywheel_ml.data.stage import DataStage
from flywheel_ml.data.store import DataObjects, DataStore

__all__ = [
    "SPLITS",
    "CheckReport",
    "DataObjects",
    "DataSlice",
    "DataStage",
    "DataStore",
    "Dataset",
    "DatasetVersion",
    "Finding",
    "SealedRead",
    "SplitPolicy",
    "VersionDiff",
    "split_of",
]
