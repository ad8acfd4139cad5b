"""Datasets, their versions, the split policy, slices, test-set reads and check findings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from flywheel_ml.core.digests import Digest

DatasetKind = Literal["table", "files"]
"""``table``: rows of a CSV/Parquet/JSONL file or a DataFrame; ``files``: a folder of files."""
DatasetRole = Literal["dataset", "test_set"]
"""``test_set``: a named held-out set (every item is test data, sealed like the test split)."""
Split = Literal["train", "val", "test"]
SPLITS: tuple[Split, ...] = ("train", "val", "test")
Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class Dataset:
    """A named dataset: what kind of items it holds and where labels and ids come from.

    Attributes:
        label: the label column of a table (``"label"`` for a folder labelled by parent folder),
            or None for unlabelled data.
        id_column: the item id column of a table, or None when ids are row digests.
    """

    name: str
    kind: DatasetKind
    role: DatasetRole = "dataset"
    label: str | None = None
    id_column: str | None = None
    created_at: datetime | None = None
    created_by: str = ""


@dataclass(frozen=True, slots=True)
class DatasetVersion:
    """One immutable version of a dataset; its id is the digest of its manifest object.

    Attributes:
        digest: the version id (the manifest's digest).
        number: 1 for the first version of the dataset, then 2, 3, ...
        parent: the previous version's digest (None for v1).
        items: how many items (rows or files) the version holds.
        size: bytes of the stored objects the version lists.
        facts: recorded facts (schema, class balance, split counts, sources) as JSON data.
    """

    digest: Digest
    dataset: str
    number: int
    parent: Digest | None
    message: str
    author: str
    created_at: datetime
    items: int
    size: int
    facts: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ref(self) -> str:
        """The readable reference, e.g. ``reviews@v2``."""
        return f"{self.dataset}@v{self.number}"

    @property
    def short(self) -> str:
        """The first 12 hex characters of the version id."""
        return self.digest.removeprefix("blake3:")[:12]


@dataclass(frozen=True, slots=True)
class SplitPolicy:
    """Fractions of train/val/test and the seed that, with an item id, fix the item's split."""

    train: float = 0.8
    val: float = 0.1
    test: float = 0.1
    seed: int = 13
    set_at: datetime | None = None
    set_by: str = ""


@dataclass(frozen=True, slots=True)
class DataSlice:
    """A named filter (``hour >= 20 or hour < 6``) that can be evaluated on any version."""

    dataset: str
    name: str
    where: str
    created_at: datetime
    created_by: str


@dataclass(frozen=True, slots=True)
class SealedRead:
    """An audit record: someone read sealed test labels, when, of which version, and why."""

    id: str
    dataset: str
    version: Digest
    purpose: str
    rows: int
    actor: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Finding:
    """One result of ``data check``: ``error`` findings fail the check, warnings do not."""

    check: str
    severity: Severity
    message: str


@dataclass(frozen=True, slots=True)
class CheckReport:
    """Every finding of one ``data check`` run on a version (compared with its parent)."""

    version: str
    compared_with: str | None
    findings: tuple[Finding, ...]

    @property
    def passed(self) -> bool:
        """Whether no finding is an error."""
        return all(f.severity != "error" for f in self.findings)


@dataclass(frozen=True, slots=True)
class VersionDiff:
    """Items added, removed, relabelled (same id, new label) and changed (same id, new content)."""

    old: str
    new: str
    added: tuple[str, ...]
    removed: tuple[str, ...]
    relabelled: tuple[str, ...]
    changed: tuple[str, ...]
