"""Shared fixtures: database URLs for both backends, workspaces, and the real CLI.

Every store contract runs on SQLite and on PostgreSQL (127.0.0.1:5432, database ``test``, trust
auth). Each PostgreSQL-backed test gets a schema of its own, dropped afterwards, so parallel
test workers never see each other's rows.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_ADMIN_URL = os.environ.get(
    "FLYWHEEL_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
FLYWHEEL = str(Path(sys.executable).with_name("flywheel"))

# Web UI fixtures (seeded workspace, UI server, Chromium page) shared by every stage's tests.
pytest_plugins = ["tests.ui_fixtures"]


def _pg_available() -> bool:
    try:
        import psycopg
    except ImportError:
        return False
    try:
        with psycopg.connect(PG_ADMIN_URL.replace("+psycopg", ""), connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


PG_AVAILABLE = _pg_available()


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never inherit a developer's FLYWHEEL_* settings."""
    for key in list(os.environ):
        if key.startswith("FLYWHEEL_") and key != "FLYWHEEL_TEST_PG_URL":
            monkeypatch.delenv(key)
    monkeypatch.setenv("FLYWHEEL_USER", "tester")


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped after the test."""
    if not PG_AVAILABLE:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL at 127.0.0.1:5432 is not reachable in CI")
        pytest.skip("PostgreSQL at 127.0.0.1:5432 is not reachable")
    import psycopg

    schema = f"fw_{uuid.uuid4().hex[:16]}"
    admin = PG_ADMIN_URL.replace("+psycopg", "")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{PG_ADMIN_URL}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    """The name of the database backend a parametrised test runs on."""
    return str(request.param)


@pytest.fixture
def db_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A database URL for ``backend``: a SQLite file in tmp_path or a fresh PostgreSQL schema."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def workspace(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """A fresh workspace on the parametrised backend."""
    import flywheel_ml as fw

    monkeypatch.setenv("FLYWHEEL_DB_URL", db_url)
    ws = fw.init_workspace(tmp_path / "ws", name="Test project")
    try:
        yield ws
    finally:
        ws.close()


@pytest.fixture
def sqlite_workspace(tmp_path: Path) -> Iterator[object]:
    """A fresh embedded workspace (SQLite), for tests that are not about the backend."""
    import flywheel_ml as fw

    ws = fw.init_workspace(tmp_path / "ws", name="Test project")
    try:
        yield ws
    finally:
        ws.close()


def run_cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run the real ``flywheel`` console script and capture its output."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [FLYWHEEL, *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def cli() -> object:
    """The :func:`run_cli` function, for tests that drive the real command line."""
    return run_cli
