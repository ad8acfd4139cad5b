"""Stores for the contract suites: opened directly on the parametrised SQL backend (a SQLite
file or a PostgreSQL schema), or over REST against a live team server on 127.0.0.1.

``database`` is SQL only (tests of SQL internals); ``stores`` and ``any_workspace`` run a suite on
all three backends: ``sqlite``, ``postgres`` and ``rest`` (the team server keeps its own SQLite
workspace; the client reaches every store through ``/api/v1``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from flywheel_ml.backends.sql.database import Database, open_database
from flywheel_ml.backends.sql.migrate import ensure_schema

THREE_BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres), "rest"]
WITH_STDLIB = [*THREE_BACKENDS, "stdlib"]
"""For the stores the CLI's fast path also has on the stdlib ``sqlite3`` driver (``data``,
``events``): ``@pytest.mark.parametrize("stores", WITH_STDLIB, indirect=True)``."""


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


@contextmanager
def _team_server(root: Path) -> Iterator[tuple[str, str]]:
    """A team server over a fresh workspace in ``root``: (URL, an admin's token)."""
    import flywheel_ml as fw
    from flywheel_ml.server.team_app import create_team_app
    from tests.server.team_live import live_server, role_tokens

    ws = fw.init_workspace(root / "server", name="Contract")
    try:
        token = role_tokens(ws)["admin"]
        with live_server(create_team_app(ws)) as url:
            yield url, token
    finally:
        ws.close()


@pytest.fixture(params=THREE_BACKENDS)
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """Every store, on SQLite, PostgreSQL or over REST (and, where a test asks for it with
    :data:`WITH_STDLIB`, the data store and event log on the stdlib driver)."""
    from flywheel_ml.backends.blobs import open_object_store
    from flywheel_ml.backends.stores import SqlStores

    if request.param == "stdlib":
        from flywheel_ml.backends.sql.sqlite_stdlib import StdlibSqlite, StdlibStores

        path = tmp_path / "store.db"
        migrated = open_database(f"sqlite:///{path}")  # the schema is SQLAlchemy's (Alembic)
        ensure_schema(migrated)
        migrated.dispose()
        found = StdlibStores(StdlibSqlite(path), blob_url=str(tmp_path / "objects"))
        try:
            yield found
        finally:
            found.close()
        return
    if request.param == "rest":
        from flywheel_ml.backends.rest import RestClient, RestStores

        with _team_server(tmp_path) as (url, token):
            found = RestStores(RestClient(url, token))
            try:
                yield found
            finally:
                found.close()
        return
    url = (
        f"sqlite:///{tmp_path / 'store.db'}"
        if request.param == "sqlite"
        else str(request.getfixturevalue("pg_url"))
    )
    db = open_database(url)
    ensure_schema(db)
    db.count_changes = True
    try:
        yield SqlStores(db, open_object_store(str(tmp_path / "objects")))
    finally:
        db.dispose()


REST_USER = "admin-user"
"""The user of the token the REST backend's fixtures use."""


@pytest.fixture
def written_by(stores: Any) -> Any:
    """Who a store records as the author of a write that named ``actor``: the name itself on
    SQL, and over REST the token's user (the server stamps it, whatever the client sent)."""
    from flywheel_ml.backends.rest import RestStores

    remote = isinstance(stores, RestStores)

    def author(actor: str) -> str:
        return REST_USER if remote else actor

    return author


@pytest.fixture
def as_stored(stores: Any) -> Any:
    """What a store keeps of an entity a test wrote: unchanged on SQL; over REST with its
    ``created_by``/``author``/``actor``/``updated_by`` fields (nested entities and lists too)
    set to the token's user."""
    from flywheel_ml.backends.rest import RestStores

    remote = isinstance(stores, RestStores)

    def convert(value: Any) -> Any:
        if not remote:
            return value
        if isinstance(value, list):
            return [convert(v) for v in value]
        if isinstance(value, tuple):
            return tuple(convert(v) for v in value)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            changes = {
                f.name: REST_USER if f.name in _AUTHOR_FIELDS else convert(getattr(value, f.name))
                for f in dataclasses.fields(value)
                if f.init
            }
            return dataclasses.replace(value, **changes)
        return value

    return convert


_AUTHOR_FIELDS = frozenset({"created_by", "author", "actor", "updated_by"})


@pytest.fixture(params=THREE_BACKENDS)
def any_workspace(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    """A fresh workspace: embedded on SQLite or PostgreSQL, or a team server's client."""
    import flywheel_ml as fw

    if request.param == "rest":
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
        with _team_server(tmp_path) as (url, token):
            ws = fw.connect_workspace(url, token=token)
            try:
                yield ws
            finally:
                ws.close()
        return
    if request.param == "postgres":
        monkeypatch.setenv("FLYWHEEL_DB_URL", str(request.getfixturevalue("pg_url")))
    else:
        monkeypatch.setenv("FLYWHEEL_DB_URL", f"sqlite:///{tmp_path / 'store.db'}")
    ws = fw.init_workspace(tmp_path / "ws", name="Test project")
    try:
        yield ws
    finally:
        ws.close()
