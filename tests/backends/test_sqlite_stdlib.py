"""The stdlib ``sqlite3`` stores keep SQLAlchemy's transaction discipline and storage formats.

They share the workspace file with SQLAlchemy-based processes, so a row one side writes must read
back identically on the other, every write transaction must bump ``workspace_meta.changes``, and
a writer must queue on (and retry after) a lock held by another connection.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from flywheel_ml.backends.sql.data_store import SqlDataStore
from flywheel_ml.backends.sql.database import Database, open_database
from flywheel_ml.backends.sql.event_store import SqlEventLog
from flywheel_ml.backends.sql.migrate import ensure_schema
from flywheel_ml.backends.sql.revisions import head_revision
from flywheel_ml.backends.sql.sqlite_stdlib import (
    StdlibEventLog,
    StdlibPackIndex,
    StdlibSqlite,
    StdlibStores,
)
from flywheel_ml.backends.sql.sqlite_stdlib_data import StdlibDataStore
from flywheel_ml.core.digests import digest_bytes
from flywheel_ml.data.entities import Dataset, DatasetVersion, SplitPolicy
from flywheel_ml.errors import ConflictError, StoreUnavailableError

AT = datetime(2026, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    """A SQLite file migrated to the head revision by SQLAlchemy and Alembic."""
    db_file = tmp_path / "flywheel.db"
    db = open_database(f"sqlite:///{db_file}")
    ensure_schema(db)
    db.dispose()
    return db_file


@pytest.fixture
def sql(path: Path) -> Iterator[Database]:
    db = open_database(f"sqlite:///{path}")
    db.count_changes = True
    try:
        yield db
    finally:
        db.dispose()


@pytest.fixture
def stdlib(path: Path) -> Iterator[StdlibSqlite]:
    db = StdlibSqlite(path)
    try:
        yield db
    finally:
        db.close()


def _version(name: str, content: bytes, parent: str | None, *, at: datetime = AT) -> DatasetVersion:
    return DatasetVersion(
        digest=digest_bytes(content), dataset=name, number=0, parent=parent,  # type: ignore[arg-type]
        message="m", author="tester", created_at=at, items=2, size=5,
        facts={"labels": {"a": 2}, "x": [1.5, None, "é"]},
    )  # fmt: skip


def _changes(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(
            conn.execute("SELECT value FROM workspace_meta WHERE key = 'changes'").fetchone()[0]
        )


def test_opens_wal_full_sync_and_knows_the_revision(stdlib: StdlibSqlite) -> None:
    with stdlib.read() as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 1000
    assert stdlib.revision() == head_revision()


def test_never_creates_a_database(tmp_path: Path) -> None:
    with pytest.raises(StoreUnavailableError):
        StdlibSqlite(tmp_path / "missing.db")
    assert not (tmp_path / "missing.db").exists()
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    db = StdlibSqlite(empty)
    try:
        assert db.revision() is None  # not a workspace: callers take the full path
    finally:
        db.close()


def test_every_write_transaction_bumps_the_change_counter(path: Path, stdlib: StdlibSqlite) -> None:
    store = StdlibDataStore(stdlib)
    before = _changes(path)
    v1 = store.create_version(Dataset("d", "files"), _version("d", b"one", None))
    StdlibEventLog(stdlib).record(stage="data", kind="k", subject="s")
    StdlibPackIndex(stdlib).insert([(digest_bytes(b"o"), "p", 0, 1)])
    assert _changes(path) == before + 3
    # A refused write is rolled back whole: no version, no count.
    with pytest.raises(ConflictError, match="got a new version while this one was prepared"):
        store.create_version(Dataset("d", "files"), _version("d", b"two", None))
    assert _changes(path) == before + 3
    assert store.list_versions("d") == [v1]


def test_rows_read_back_the_same_through_sqlalchemy(sql: Database, stdlib: StdlibSqlite) -> None:
    fast, full = StdlibDataStore(stdlib), SqlDataStore(sql)
    v1 = fast.create_version(Dataset("d", "files", label="label"), _version("d", b"one", None))
    v2 = full.create_version(Dataset("d", "files"), _version("d", b"two", v1.digest))
    assert full.list_versions("d") == fast.list_versions("d") == [v1, v2]
    assert v1.created_at == AT and v1.facts == {"labels": {"a": 2}, "x": [1.5, None, "é"]}
    assert full.get_dataset("d") == fast.get_dataset("d")
    policy = SplitPolicy(0.7, 0.2, 0.1, 3, AT, "tester")
    fast.set_split_policy(policy, replace=False)
    assert full.get_split_policy() == fast.get_split_policy() == policy
    with sqlite3.connect(sql.url.removeprefix("sqlite:///")) as conn:
        stored = conn.execute("SELECT created_at, facts FROM data_versions").fetchall()
    # Byte for byte what SQLAlchemy writes: naive UTC text with microseconds, json.dumps text.
    assert stored[0] == stored[1] == ("2026-05-06 07:08:09.123456", stored[0][1])
    event = StdlibEventLog(stdlib).record(stage="data", kind="k", subject="s", detail={"n": 1})
    assert SqlEventLog(sql).recent() == StdlibEventLog(stdlib).recent() == [event]


def test_a_writer_queues_behind_another_connection(path: Path, stdlib: StdlibSqlite) -> None:
    blocker = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    blocker.execute("BEGIN IMMEDIATE")
    released = threading.Event()

    def release() -> None:
        time.sleep(0.3)
        blocker.execute("COMMIT")
        released.set()

    thread = threading.Thread(target=release)
    thread.start()
    try:
        StdlibEventLog(stdlib).record(stage="data", kind="k", subject="after the lock")
        assert released.is_set()  # it waited for the lock instead of failing
    finally:
        thread.join()
        blocker.close()
    assert [e.subject for e in StdlibEventLog(stdlib).recent()] == ["after the lock"]


def test_a_locked_transaction_is_retried_whole(path: Path, stdlib: StdlibSqlite) -> None:
    attempts: list[int] = []

    def work(conn: sqlite3.Connection) -> str:
        attempts.append(1)
        conn.execute("UPDATE workspace_meta SET value = value + 100 WHERE key = 'changes'")
        if len(attempts) < 3:
            raise sqlite3.OperationalError("database is locked")
        return "done"

    before = _changes(path)
    assert stdlib.write(work) == "done"
    assert len(attempts) == 3
    assert _changes(path) == before + 101  # the failed attempts left nothing behind

    def broken(conn: sqlite3.Connection) -> None:
        attempts.append(1)
        raise sqlite3.OperationalError("no such table: nowhere")

    attempts.clear()
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        stdlib.write(broken)
    assert len(attempts) == 1  # not a lock: not retried


def test_stores_offer_data_events_and_packed_objects(path: Path, tmp_path: Path) -> None:
    stores = StdlibStores(StdlibSqlite(path), blob_url=str(tmp_path / "objects"))
    try:
        assert isinstance(stores.store("data"), StdlibDataStore)
        assert stores.store("events") is stores.store("events")
        digest = stores.data_objects.put_many([b"packed bytes"])[0]
        assert stores.data_objects.get_bytes(digest) == b"packed bytes"
        with pytest.raises(KeyError):
            stores.store("track")
    finally:
        stores.close()
