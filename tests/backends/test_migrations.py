"""Migrations: applied once on open, never re-run, refused when the database is newer."""

from __future__ import annotations

import importlib
import os
import pkgutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

import flywheel_ml.backends.sql as sql_package
from flywheel_ml.backends.sql import migrate
from flywheel_ml.backends.sql.database import Database, open_database
from flywheel_ml.backends.sql.migrate import VERSION_TABLE, current_revision, ensure_schema
from flywheel_ml.backends.sql.revisions import head_revision, known_revisions
from flywheel_ml.backends.sql.tables import metadata
from flywheel_ml.config import render_project_file
from flywheel_ml.errors import SchemaTooNewError
from flywheel_ml.workspace import init_workspace, open_workspace


@pytest.fixture
def fresh(db_url: str) -> Iterator[Database]:
    db = open_database(db_url)
    try:
        yield db
    finally:
        db.dispose()


def _all_store_tables() -> dict[str, sa.Table]:
    """Every table on the shared metadata, including those each stage's store module adds."""
    for info in pkgutil.iter_modules(sql_package.__path__):
        if info.name.endswith("_store"):
            importlib.import_module(f"{sql_package.__name__}.{info.name}")
    return dict(metadata.tables)


def test_revisions_form_a_numbered_chain() -> None:
    revisions = known_revisions()
    assert revisions == [f"{n:04d}" for n in range(1, len(revisions) + 1)]
    assert head_revision() == revisions[-1]


def test_fresh_database_reaches_head(fresh: Database) -> None:
    assert current_revision(fresh) is None
    ensure_schema(fresh)
    assert current_revision(fresh) == head_revision()
    with fresh.read() as conn:
        names = set(sa.inspect(conn).get_table_names())
        assert conn.execute(sa.text(f"SELECT count(*) FROM {VERSION_TABLE}")).scalar_one() == 1
    assert {"plan_revisions", "workspace_events", "workspace_meta"} <= names


def test_migrated_schema_matches_the_table_metadata(fresh: Database) -> None:
    ensure_schema(fresh)
    tables = _all_store_tables()
    with fresh.read() as conn:
        inspector = sa.inspect(conn)
        present = set(inspector.get_table_names())
        for name, table in tables.items():
            assert name in present, f"table {name} is in the metadata but no migration creates it"
            columns = {c["name"]: c for c in inspector.get_columns(name)}
            assert set(columns) == {c.name for c in table.columns}, name
            for column in table.columns:
                assert columns[column.name]["nullable"] == column.nullable, (name, column.name)
            pk = inspector.get_pk_constraint(name)["constrained_columns"]
            assert set(pk) == {c.name for c in table.primary_key.columns}, name


def test_reopening_does_not_run_alembic_again(
    fresh: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    ensure_schema(fresh)

    def must_not_run(_database: Database) -> None:
        raise AssertionError("Alembic ran on a database already at head")

    monkeypatch.setattr(migrate, "_upgrade", must_not_run)
    ensure_schema(fresh)
    assert current_revision(fresh) == head_revision()


def test_opening_a_current_workspace_does_not_import_alembic(tmp_path: Path) -> None:
    init_workspace(tmp_path / "ws").close()
    code = (
        "import sys; from flywheel_ml.workspace import open_workspace\n"
        f"open_workspace({str(tmp_path / 'ws')!r}).close()\n"
        "print('alembic' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_a_database_newer_than_the_code_is_refused(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLYWHEEL_DB_URL", db_url)
    ws = init_workspace(tmp_path / "ws")
    ws.database.write(
        lambda conn: conn.execute(sa.text(f"UPDATE {VERSION_TABLE} SET version_num = '9999'"))
    )
    ws.close()
    with pytest.raises(SchemaTooNewError) as info:
        open_workspace(tmp_path / "ws")
    err = info.value
    assert "9999" in err.message and head_revision() in err.message
    assert "upgrade" in err.hint
    assert len(err.one_line().splitlines()) == 1


MIGRATOR = r"""
import sys, time
from pathlib import Path
from flywheel_ml.backends.sql import migrate

real = migrate._upgrade
def counted(database):
    print("MIGRATED", flush=True)
    real(database)
migrate._upgrade = counted
go = Path(sys.argv[2])
while not go.exists():
    time.sleep(0.002)
from flywheel_ml.workspace import open_workspace
with open_workspace(sys.argv[1]) as ws:
    assert migrate.current_revision(ws.database) == migrate.head_revision()
"""


def _open_at_once(root: Path, processes: int, env: dict[str, str]) -> list[str]:
    go = root / "go"
    children = [
        subprocess.Popen(
            [sys.executable, "-c", MIGRATOR, str(root), str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **env},
        )
        for _ in range(processes)
    ]
    go.touch()
    outputs = []
    for child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
        assert err.strip() == "" or "Warning" in err, err
        outputs.append(out)
    return outputs


@pytest.mark.parametrize("processes", [8])
def test_processes_opening_a_fresh_database_at_once_migrate_once(
    tmp_path: Path, db_url: str, processes: int
) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "flywheel.toml").write_text(render_project_file("race"))
    outputs = _open_at_once(root, processes, {"FLYWHEEL_DB_URL": db_url})
    assert sum(out.count("MIGRATED") for out in outputs) == 1
    with open_workspace(root) as ws, ws.database.read() as conn:
        assert conn.execute(sa.text(f"SELECT count(*) FROM {VERSION_TABLE}")).scalar_one() == 1
        assert conn.execute(sa.text("SELECT count(*) FROM workspace_meta")).scalar_one() >= 1
