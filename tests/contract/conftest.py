"""Stores opened directly on the parametrised backend (SQLite file or PostgreSQL schema)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from flywheel_ml.backends.sql.database import Database, open_database
from flywheel_ml.backends.sql.migrate import ensure_schema


@pytest.fixture
def database(db_url: str) -> Iterator[Database]:
    """A migrated database on the parametrised backend."""
    db = open_database(db_url)
    ensure_schema(db)
    db.count_changes = True
    try:
        yield db
    finally:
        db.dispose()
