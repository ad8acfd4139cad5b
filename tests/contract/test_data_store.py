"""The data stage's store contract, on SQLite, PostgreSQL, REST and the stdlib ``sqlite3``
driver (the store of the CLI's fast path)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from flywheel_ml.core.digests import Digest, digest_bytes
from flywheel_ml.data.entities import (
    CheckReport,
    Dataset,
    DatasetVersion,
    DataSlice,
    Finding,
    SealedRead,
    SplitPolicy,
)
from flywheel_ml.errors import ConflictError
from tests.contract.conftest import WITH_STDLIB

pytestmark = pytest.mark.parametrize("stores", WITH_STDLIB, indirect=True)

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def _version(name: str, content: bytes, parent: Digest | None) -> DatasetVersion:
    return DatasetVersion(
        digest=digest_bytes(content), dataset=name, number=0, parent=parent, message="m",
        author="tester", created_at=NOW, items=3, size=10, facts={"labels": {"a": 3}},
    )  # fmt: skip


def test_versions_are_numbered_and_chained(stores: Any) -> None:
    store = stores.store("data")
    for manifest in (b"one", b"two", b"three", b"x"):  # a version names its stored manifest
        stores.objects.put_bytes(manifest)
    dataset = Dataset("reviews", "table", label="y", id_column="id")
    v1 = store.create_version(dataset, _version("reviews", b"one", None))
    v2 = store.create_version(dataset, _version("reviews", b"two", v1.digest))
    assert (v1.number, v2.number, v2.parent) == (1, 2, v1.digest)
    assert v2.created_at == NOW and v2.facts == {"labels": {"a": 3}}
    assert [v.number for v in store.list_versions("reviews")] == [1, 2]
    assert store.latest_version("reviews") == v2
    assert store.get_version("reviews", 1) == v1
    assert store.get_version("reviews", 3) is None
    assert store.find_versions(v1.digest[:20]) == [v1]
    assert store.get_dataset("reviews") is not None
    assert [d.name for d in store.list_datasets()] == ["reviews"]
    # A stale parent (someone added meanwhile) is refused; nothing is written.
    with pytest.raises(ConflictError):
        store.create_version(dataset, _version("reviews", b"three", v1.digest))
    with pytest.raises(ConflictError):
        store.create_version(Dataset("reviews", "files"), _version("reviews", b"x", v2.digest))
    assert len(store.list_versions("reviews")) == 2


def test_split_policy_slices_reads_and_checks(stores: Any) -> None:
    store = stores.store("data")
    assert store.get_split_policy() is None
    policy = SplitPolicy(0.7, 0.2, 0.1, 5, NOW, "tester")
    store.set_split_policy(policy, replace=False)
    assert store.set_split_policy(policy, replace=False).seed == 5  # same policy: fine
    with pytest.raises(ConflictError):
        store.set_split_policy(SplitPolicy(0.8, 0.1, 0.1, 5, NOW, "x"), replace=False)
    store.set_split_policy(SplitPolicy(0.8, 0.1, 0.1, 5, NOW, "x"), replace=True)
    stored = store.get_split_policy()
    assert stored is not None and stored.train == 0.8
    store.put_slice(DataSlice("r", "night", "hour < 6", NOW, "tester"))
    store.put_slice(DataSlice("r", "night", "hour < 5", NOW, "tester"))
    assert [s.where for s in store.list_slices("r")] == ["hour < 5"]
    assert store.delete_slice("r", "night") and not store.delete_slice("r", "night")
    digest = digest_bytes(b"v")
    for i in range(2):
        store.record_test_read(
            SealedRead(f"{i:032x}", "r", digest, f"why {i}", 10, "tester", NOW + timedelta(i))
        )
    assert [r.purpose for r in store.list_test_reads()] == ["why 0", "why 1"]
    assert store.list_test_reads(dataset="other") == []
    assert store.latest_check(digest) is None
    report = CheckReport("r@v1", None, (Finding("schema", "error", "column gone"),))
    store.record_check(report, version=digest, at=NOW)
    assert store.latest_check(digest) == (False, NOW)
