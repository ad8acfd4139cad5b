"""What the data stage needs from a backend: a record store and a batch-capable object store."""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from flywheel_ml.core.digests import Digest
from flywheel_ml.core.objects import ObjectStore
from flywheel_ml.data.entities import (
    CheckReport,
    Dataset,
    DatasetVersion,
    DataSlice,
    SealedRead,
    SplitPolicy,
)
from flywheel_ml.errors import ConflictError


class DataObjects(ObjectStore, Protocol):
    """The object store, plus batch writes (small objects go into packs) and exports."""

    def put_many(
        self, blobs: Sequence[bytes], *, digests: Sequence[Digest] | None = None
    ) -> list[Digest]:
        """Store many small objects at once (in packs where the store has them).

        Returns each blob's digest, in order. The objects are durable when this returns.
        ``digests``, when given, are the blobs' digests already computed by the caller (who
        hashed them while other work ran); they are trusted, not computed again.
        """
        ...

    def export_many(self, targets: Sequence[tuple[Digest, str | os.PathLike[str]]]) -> None:
        """Write each object's bytes to a new file at its target path (no fsync)."""
        ...


class DataStore(Protocol):
    """Keeps datasets, versions, the split policy, slices, test-set reads and check runs."""

    def create_version(self, dataset: Dataset, version: DatasetVersion) -> DatasetVersion:
        """Record ``version`` (creating ``dataset`` on its first version) in one transaction.

        Raises:
            ConflictError: the dataset exists with another kind or role, or its newest version
                is no longer ``version.parent`` (someone added a version meanwhile).
        """
        ...

    def get_dataset(self, name: str) -> Dataset | None:
        """The dataset, or None."""
        ...

    def list_datasets(self) -> list[Dataset]:
        """Every dataset, by name."""
        ...

    def list_versions(self, name: str) -> list[DatasetVersion]:
        """Every version of a dataset, oldest first."""
        ...

    def latest_version(self, name: str) -> DatasetVersion | None:
        """The newest version of a dataset, or None."""
        ...

    def get_version(self, name: str, number: int) -> DatasetVersion | None:
        """Version ``number`` of a dataset, or None."""
        ...

    def find_versions(self, digest_prefix: str) -> list[DatasetVersion]:
        """Versions whose digest starts with ``digest_prefix`` (a full ``blake3:...`` prefix)."""
        ...

    def get_split_policy(self) -> SplitPolicy | None:
        """The project's split policy, or None before it is set."""
        ...

    def set_split_policy(self, policy: SplitPolicy, *, replace: bool) -> SplitPolicy:
        """Store the policy; unless ``replace``, an existing different policy is a conflict."""
        ...

    def put_slice(self, data_slice: DataSlice) -> None:
        """Create or replace a slice."""
        ...

    def list_slices(self, dataset: str | None = None) -> list[DataSlice]:
        """Slices of one dataset (or all), by name."""
        ...

    def delete_slice(self, dataset: str, name: str) -> bool:
        """Remove a slice; whether it existed."""
        ...

    def record_test_read(self, read: SealedRead) -> None:
        """Append an audit record of a sealed test read."""
        ...

    def list_test_reads(self, *, dataset: str | None = None) -> list[SealedRead]:
        """Audit records, oldest first."""
        ...

    def record_check(self, report: CheckReport, *, version: Digest, at: datetime) -> None:
        """Keep the result of a check run on ``version``."""
        ...

    def latest_check(self, version: Digest) -> tuple[bool, datetime] | None:
        """Whether the newest check run of ``version`` passed, and when; None if never run."""
        ...


def next_version_number(
    dataset: Dataset,
    *,
    stored: tuple[str, str] | None,
    latest: DatasetVersion | None,
    parent: Digest | None,
) -> int:
    """The number of the version of ``dataset`` being recorded on ``parent``: the rule every
    :meth:`DataStore.create_version` applies inside its write transaction.

    ``stored`` is the (kind, role) the dataset was recorded with (None before its first
    version) and ``latest`` its newest version, both as read in that transaction.

    Raises:
        ConflictError: the dataset holds another kind of items or role, or got a new version
            since ``parent`` was read.
    """
    if stored is not None and stored != (dataset.kind, dataset.role):
        raise ConflictError(
            f"dataset {dataset.name!r} holds {stored[0]} items as a {stored[1]}, "
            f"not {dataset.kind} items as a {dataset.role}",
            hint="add to a new dataset name",
        )
    if (latest.digest if latest else None) != parent:
        raise ConflictError(
            f"dataset {dataset.name!r} got a new version while this one was prepared",
            hint="run the add again",
        )
    return 1 if latest is None else latest.number + 1
