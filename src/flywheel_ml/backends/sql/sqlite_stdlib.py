"""The stores a folder ``data add`` needs, on a SQLite workspace through the stdlib ``sqlite3``.

Importing SQLAlchemy takes ~0.2 s, most of the CLI's budget for re-adding a folder in which a
few files changed. The CLI's fast path therefore runs the same :class:`DataStage.add
<flywheel_ml.data.stage.DataStage>` on these stores: the data store
(:class:`~flywheel_ml.backends.sql.sqlite_stdlib_data.StdlibDataStore`), the event log and the
pack index, all on one connection of the standard library's driver.

They keep the transaction discipline of :mod:`flywheel_ml.backends.sql.database` exactly, since
they share the file with SQLAlchemy-based processes: WAL, ``synchronous=FULL``, a 60 s busy
timeout, every write transaction opened with ``BEGIN IMMEDIATE`` and retried whole on "database
is locked", and ``workspace_meta.changes`` incremented in every write transaction (the
``flywheel status`` cache relies on it). Values are stored as SQLAlchemy stores them on SQLite
(datetimes as naive UTC text with microseconds, JSON as ``json.dumps`` text), so either side
reads what the other wrote. The schema is SQLAlchemy's, made by Alembic: these stores never
create or migrate anything, and callers check :meth:`StdlibSqlite.revision` first.
"""

from __future__ import annotations

import json
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

from flywheel_ml.backends.pack_index import Location
from flywheel_ml.core.events import Event, new_event
from flywheel_ml.errors import StoreUnavailableError

if TYPE_CHECKING:
    from flywheel_ml.backends.blobs import FsspecObjectStore, LocalObjectStore
    from flywheel_ml.backends.packs import PackedObjectStore

T = TypeVar("T")

# The values of backends/sql/database.py: both sides must queue on the lock the same way.
_BUSY_TIMEOUT_MS = 60_000
_MAX_ATTEMPTS = 50
_CHUNK = 900  # digests per IN (...) query: under SQLite's old 999-parameter limit


class StdlibSqlite:
    """One connection to a workspace's SQLite file, with :class:`Database`'s transactions.

    The connection is shared by the stores built on it and used by one thread at a time (a
    lock): the fast path is one thread, and a second connection per thread would only add
    a second writer queueing on the same file lock.
    """

    def __init__(self, path: Path) -> None:
        """Open the existing database file ``path`` (never create one).

        Raises:
            StoreUnavailableError: the file is missing or cannot be opened for writing in WAL.
        """
        self.path = path
        self._lock = threading.RLock()
        try:
            # mode=rw: a missing file is an error, not a new empty database.
            conn = sqlite3.connect(
                f"file:{quote(str(path.resolve()))}?mode=rw",
                uri=True,
                timeout=_BUSY_TIMEOUT_MS / 1000,
                isolation_level=None,  # transactions are ours to begin, as in Database
                check_same_thread=False,
            )
        except sqlite3.Error as exc:
            raise StoreUnavailableError(
                f"cannot open the database {path}: {exc}",
                hint="check the workspace's .flywheel folder",
            ) from exc
        try:
            conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
        except sqlite3.Error as exc:
            conn.close()
            raise StoreUnavailableError(
                f"cannot open the database {path}: {exc}",
                hint="check the workspace's .flywheel folder",
            ) from exc
        self._conn = conn

    def revision(self) -> str | None:
        """The schema revision Alembic recorded, or None when there is none."""
        try:
            with self.read() as conn:
                row = conn.execute("SELECT version_num FROM flywheel_alembic_version").fetchone()
        except sqlite3.Error:
            return None
        return None if row is None else str(row[0])

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """The connection in a read transaction (one consistent snapshot)."""
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                yield self._conn
            finally:
                # Nothing was written: ending the snapshot either way is the same.
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")

    def write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work`` in a durable write transaction, retried whole while the file is locked.

        ``work`` must be safe to run more than once: each attempt is a fresh transaction and
        nothing of a failed attempt is kept. Like :meth:`Database.write`, the transaction also
        increments ``workspace_meta.changes``.
        """
        for attempt in range(_MAX_ATTEMPTS):
            try:
                with self._lock:
                    return self._write_once(work)
            except sqlite3.OperationalError as exc:
                text = str(exc).lower()
                if not ("locked" in text or "busy" in text) or attempt == _MAX_ATTEMPTS - 1:
                    raise
            time.sleep(min(0.5, 0.005 * 2 ** min(attempt, 7)) * random.uniform(0.5, 1.0))
        raise AssertionError("unreachable")  # pragma: no cover

    def _write_once(self, work: Callable[[sqlite3.Connection], T]) -> T:
        conn = self._conn
        # The write lock up front: two writers queue on the busy handler instead of
        # deadlocking on a lock upgrade.
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = work(conn)
            conn.execute("UPDATE workspace_meta SET value = value + 1 WHERE key = 'changes'")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return result

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()


def db_time(value: datetime) -> str:
    """``value`` as SQLAlchemy stores a DateTime on SQLite: naive UTC text with microseconds."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(sep=" ", timespec="microseconds")


def from_db_time(value: object) -> datetime:
    """A stored DateTime as an aware UTC datetime (as the SQLAlchemy stores read it back)."""
    found = datetime.fromisoformat(str(value))
    return found.replace(tzinfo=UTC) if found.tzinfo is None else found.astimezone(UTC)


def db_json(value: Any) -> str:
    """``value`` as SQLAlchemy's JSON type stores it (its default serializer)."""
    return json.dumps(value)


class StdlibEventLog:
    """:class:`flywheel_ml.core.events.EventLog` on the stdlib driver (as ``SqlEventLog``)."""

    def __init__(self, database: StdlibSqlite) -> None:
        self._db = database

    def record(
        self,
        *,
        stage: str,
        kind: str,
        subject: str,
        detail: Mapping[str, Any] | None = None,
        actor: str | None = None,
    ) -> Event:
        """Append an event in its own short write transaction and return it."""
        event = new_event(stage=stage, kind=kind, subject=subject, detail=detail, actor=actor)
        row = (event.id, event.stage, event.kind, event.subject, db_json(dict(event.detail)),
               event.actor, db_time(event.at))  # fmt: skip
        self._db.write(
            lambda conn: conn.execute(
                "INSERT INTO workspace_events (id, stage, kind, subject, detail, actor, at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                row,
            )
        )
        return event

    def recent(self, *, limit: int = 20, stage: str | None = None) -> list[Event]:
        """The newest events first."""
        where, params = ("WHERE stage = ? ", [stage]) if stage is not None else ("", [])
        with self._db.read() as conn:
            rows = conn.execute(
                "SELECT id, stage, kind, subject, actor, at, detail FROM workspace_events "
                f"{where}ORDER BY at DESC, id DESC LIMIT ?",
                [*params, limit],
            ).fetchall()
        return [
            Event(
                id=r[0],
                stage=r[1],
                kind=r[2],
                subject=r[3],
                actor=r[4],
                at=from_db_time(r[5]),
                detail=json.loads(r[6]),
            )
            for r in rows
        ]


class StdlibPackIndex:
    """:class:`~flywheel_ml.backends.pack_index.PackIndex` on the stdlib driver."""

    def __init__(self, database: StdlibSqlite) -> None:
        self._db = database

    def insert(self, rows: Sequence[tuple[str, str, int, int]]) -> None:
        """Index ``(digest, pack, offset, length)`` rows; a digest already indexed is kept."""
        self._db.write(
            lambda conn: conn.executemany(
                'INSERT OR IGNORE INTO object_packs (digest, pack, "offset", length) '
                "VALUES (?, ?, ?, ?)",
                rows,
            )
        )

    def locate(self, digests: Sequence[str]) -> dict[str, Location]:
        """The location of each of ``digests`` that is packed."""
        found: dict[str, Location] = {}
        if not digests:
            return found
        with self._db.read() as conn:
            for start in range(0, len(digests), _CHUNK):
                chunk = tuple(digests[start : start + _CHUNK])
                marks = ",".join("?" * len(chunk))
                for digest, pack, offset, length in conn.execute(
                    f'SELECT digest, pack, "offset", length FROM object_packs '
                    f"WHERE digest IN ({marks})",
                    chunk,
                ):
                    found[digest] = (pack, offset, length)
        return found

    def all_locations(self) -> list[tuple[str, str, int, int]]:
        """Every packed object, ordered by pack and offset (sequential reads for verify)."""
        with self._db.read() as conn:
            rows = conn.execute(
                'SELECT digest, pack, "offset", length FROM object_packs ORDER BY pack, "offset"'
            ).fetchall()
        return [(r[0], r[1], r[2], r[3]) for r in rows]


class StdlibStores:
    """The data store, the event log and the packed object store of one SQLite workspace.

    What a folder add needs, not a full :class:`~flywheel_ml.backends.stores.Stores`: asking
    for another stage's store is a ``KeyError``.

    Args:
        database: the workspace's SQLite file, opened with :class:`StdlibSqlite`.
        blob_url: the workspace's object store (a folder or ``file://`` URL; packs need one).
    """

    def __init__(self, database: StdlibSqlite, *, blob_url: str) -> None:
        self.database = database
        self._blob_url = blob_url
        self._stores: dict[str, Any] = {}

    @cached_property
    def objects(self) -> LocalObjectStore | FsspecObjectStore:
        """The object store of ``blob_url`` (loose objects)."""
        from flywheel_ml.backends.blobs import open_object_store

        return open_object_store(self._blob_url)

    @cached_property
    def data_objects(self) -> PackedObjectStore:
        """The object store with small batch-written objects in packs (index in this file)."""
        from flywheel_ml.backends.packs import PackedObjectStore

        return PackedObjectStore(self.objects, StdlibPackIndex(self.database))

    def store(self, name: str) -> Any:
        """The store named ``data`` or ``events``, as :meth:`SqlStores.store` names them.

        Raises:
            KeyError: any other name.
        """
        found = self._stores.get(name)
        if found is None:
            if name == "data":
                from flywheel_ml.backends.sql.sqlite_stdlib_data import StdlibDataStore

                found = StdlibDataStore(self.database)
            elif name == "events":
                found = StdlibEventLog(self.database)
            else:
                raise KeyError(name)
            self._stores[name] = found
        return found

    def close(self) -> None:
        """Close the database connection."""
        self.database.close()
