"""Bring a database to the schema of this Flywheel, once, however many processes open it at once.

Revisions are the files ``migrations/versions/NNNN_<what>.py``; the revision id is ``NNNN`` and
revisions form one chain in number order. Opening a workspace compares the recorded revision with
the newest file name, which costs one query and no Alembic import; only when they differ does it
take a lock (``pg_advisory_lock`` on PostgreSQL, an exclusive file lock beside a SQLite database),
look again, and run Alembic.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from flywheel_ml.backends.sql.database import Database
from flywheel_ml.backends.sql.revisions import head_revision, known_revisions
from flywheel_ml.errors import SchemaTooNewError

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
__all__ = ["VERSION_TABLE", "current_revision", "ensure_schema", "head_revision", "known_revisions"]
VERSION_TABLE = "flywheel_alembic_version"
_PG_LOCK_KEY = 0x46_4C_59_57  # "FLYW"


def current_revision(database: Database) -> str | None:
    """The revision recorded in the database, or None for an empty database."""
    with database.read() as conn:
        if not sa.inspect(conn).has_table(VERSION_TABLE):
            return None
        row = conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).first()
    return None if row is None else str(row[0])


def ensure_schema(database: Database, *, lock_path: Path | None = None) -> None:
    """Migrate ``database`` to :func:`head_revision` unless it is there already.

    Raises:
        SchemaTooNewError: the database was migrated by a newer Flywheel.
    """
    head = head_revision()
    current = current_revision(database)
    if current == head:
        return
    _refuse_newer(current)
    with _migration_lock(database, lock_path):
        current = current_revision(database)
        _refuse_newer(current)
        if current != head:
            _upgrade(database)


def _refuse_newer(current: str | None) -> None:
    if current is not None and current not in known_revisions():
        raise SchemaTooNewError(
            f"the database is at schema revision {current}, newer than this Flywheel "
            f"(which knows up to {head_revision()})",
            hint="upgrade flywheel-ml (pip install -U flywheel-ml) before opening this workspace",
        )


@contextmanager
def _migration_lock(database: Database, lock_path: Path | None) -> Iterator[None]:
    if database.is_sqlite:
        path = lock_path or Path(database.engine.url.database or ".").with_suffix(".migrate.lock")
        # A cloned workspace has flywheel.toml but not the git-ignored .flywheel/ yet.
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a+b") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        return
    with database.engine.connect() as conn:
        conn.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": _PG_LOCK_KEY})
        conn.commit()
        try:
            yield
        finally:
            conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_LOCK_KEY})
            conn.commit()


def _upgrade(database: Database) -> None:
    # Alembic is imported here only: most opens find the schema current and never need it.
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with database.begin_write() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
