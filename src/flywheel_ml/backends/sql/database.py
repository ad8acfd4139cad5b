"""Engines for SQLite and PostgreSQL with the transaction discipline every store relies on.

SQLite runs in WAL mode with ``synchronous=FULL`` so an acknowledged commit survives ``kill -9``
and power loss. Write transactions start with ``BEGIN IMMEDIATE``: the write lock is taken up
front, so two writers queue on the busy handler instead of deadlocking on a lock upgrade (the
cause of most "database is locked" errors). :meth:`Database.write` additionally retries a whole
transaction when the lock or a PostgreSQL serialization conflict still gets in the way, so
callers never see either.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from flywheel_ml.errors import InvalidInputError, StoreUnavailableError

T = TypeVar("T")

_BUSY_TIMEOUT_MS = 60_000
_MAX_ATTEMPTS = 50
# PostgreSQL SQLSTATEs that mean "try the transaction again": serialization failure, deadlock.
_PG_RETRY_STATES = {"40001", "40P01"}


class Database:
    """One database (SQLite file or PostgreSQL schema) shared by every store of a workspace."""

    def __init__(self, engine: Engine, *, url: str) -> None:
        self.engine = engine
        self.url = url
        self.dialect = engine.dialect.name
        self.count_changes = False
        """When true (set once the schema exists), every SQLite write transaction increments
        ``workspace_meta.changes``, so a reader can tell in one query whether anything changed
        (the ``status`` cache relies on it)."""

    @property
    def is_sqlite(self) -> bool:
        """Whether this is an embedded SQLite database."""
        return self.dialect == "sqlite"

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection in a read transaction (a consistent snapshot on both backends)."""
        with self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def begin_write(self, *, durable: bool = True) -> Iterator[Connection]:
        """A connection in a write transaction, committed on exit (no automatic retry).

        ``durable=False`` commits without waiting for the disk (SQLite ``synchronous=NORMAL``
        in WAL mode, PostgreSQL ``synchronous_commit=off``): a crash may lose the newest such
        commits, but never a commit made before them durably, and the next durable commit
        (of any connection) makes them durable too, because both logs are written in order.
        Use it only for writes that are worthless without a later durable one.
        """
        with self.engine.connect() as raw:
            conn = raw.execution_options(flywheel_write=True)
            relax = not durable and self.is_sqlite
            if relax:
                # The level cannot change inside a transaction: set it before BEGIN.
                raw.connection.dbapi_connection.execute(  # type: ignore[union-attr]
                    "PRAGMA synchronous = NORMAL"
                )
            try:
                with conn.begin():
                    if not durable and not self.is_sqlite:
                        conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
                    yield conn
                    if self.count_changes and self.is_sqlite:
                        # Straight to the driver: this runs once per write transaction.
                        conn.connection.dbapi_connection.execute(  # type: ignore[union-attr]
                            "UPDATE workspace_meta SET value = value + 1 WHERE key = 'changes'"
                        )
            finally:
                if relax:
                    raw.connection.dbapi_connection.execute(  # type: ignore[union-attr]
                        "PRAGMA synchronous = FULL"
                    )

    def write(self, work: Callable[[Connection], T], *, durable: bool = True) -> T:
        """Run ``work`` in a write transaction, retried whole on lock or serialization conflicts.

        ``work`` must be safe to run more than once: it sees a fresh transaction each time and
        nothing it did in a failed attempt is kept. ``durable`` is :meth:`begin_write`'s.
        """
        for attempt in range(_MAX_ATTEMPTS):
            try:
                with self.begin_write(durable=durable) as conn:
                    return work(conn)
            except DBAPIError as exc:
                if not self._retryable(exc) or attempt == _MAX_ATTEMPTS - 1:
                    raise
                time.sleep(min(0.5, 0.005 * 2 ** min(attempt, 7)) * random.uniform(0.5, 1.0))
        raise AssertionError("unreachable")  # pragma: no cover

    def _retryable(self, exc: DBAPIError) -> bool:
        if self.is_sqlite:
            text = str(exc.orig).lower()
            return "locked" in text or "busy" in text
        state = getattr(exc.orig, "sqlstate", None)
        return state in _PG_RETRY_STATES

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def open_database(url: str) -> Database:
    """Create an engine for ``url`` and check that the database answers.

    Raises:
        InvalidInputError: the URL is not a SQLite or PostgreSQL SQLAlchemy URL.
        StoreUnavailableError: the server cannot be reached or the file cannot be opened.
    """
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise InvalidInputError(
            f"not a database URL: {url!r}",
            hint="use sqlite:///path/to/file.db or postgresql+psycopg://user@host:5432/db",
        ) from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        engine = _sqlite_engine(parsed)
    elif backend == "postgresql":
        engine = _postgres_engine(parsed)
    else:
        raise InvalidInputError(
            f"unsupported database {backend!r} in {parsed.render_as_string(hide_password=True)}",
            hint="Flywheel stores run on sqlite:/// or postgresql+psycopg://",
        )
    database = Database(engine, url=parsed.render_as_string(hide_password=True))
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except OperationalError as exc:
        engine.dispose()
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise StoreUnavailableError(
            f"cannot reach the database {database.url}: {reason}",
            hint="start the database server or fix FLYWHEEL_DB_URL / [store] url in flywheel.toml",
        ) from exc
    return database


def _sqlite_engine(url: sa.URL) -> Engine:
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(
        url,
        connect_args={"timeout": _BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        pool_pre_ping=False,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control away from the driver so BEGIN IMMEDIATE is ours to emit.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = FULL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get("flywheel_write", False)
        # Straight to the driver: SQLAlchemy's statement path costs ~0.1 ms per transaction.
        conn.connection.dbapi_connection.execute(  # type: ignore[union-attr]
            "BEGIN IMMEDIATE" if write else "BEGIN"
        )

    return engine


def _postgres_engine(url: sa.URL) -> Engine:
    if url.drivername in {"postgresql", "postgres"}:
        url = url.set(drivername="postgresql+psycopg")
    return sa.create_engine(
        url,
        connect_args={"connect_timeout": 5},
        pool_size=5,
        max_overflow=10,
        pool_pre_ping=True,
    )
