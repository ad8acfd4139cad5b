"""data — versioned datasets, stable splits, the sealed test set, checks, slices.

Names are imported on first use (PEP 562): the CLI's fast path of ``data status`` imports a few
modules of this package and must not pay for the stage (pandas-facing readers, checks, slices).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

_LAZY = {
    "SPLITS": "entities",
    "CheckReport": "entities",
    "Dataset": "entities",
    "DatasetVersion": "entities",
    "DataSlice": "entities",
    "Finding": "entities",
    "SealedRead": "entities",
    "SplitPolicy": "entities",
    "VersionDiff": "entities",
    "split_of": "splits",
    "DataStage": "stage",
    "DataObjects": "store",
    "DataStore": "store",
}

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


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'flywheel_ml.data' has no attribute {name!r}")
    value = getattr(import_module(f"flywheel_ml.data.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
