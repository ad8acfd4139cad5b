"""Opening databases: bad URLs, unreachable servers, SQLite settings, and clean failure of init."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess

import pytest

import flywheel_ml as fw
from flywheel_ml.backends.sql.database import open_database
from flywheel_ml.errors import InvalidInputError, StoreUnavailableError

UNREACHABLE = "postgresql+psycopg://postgres@127.0.0.1:1/test"

Cli = Callable[..., CompletedProcess[str]]


def test_unreachable_postgres_is_store_unavailable() -> None:
    with pytest.raises(StoreUnavailableError) as info:
        open_database(UNREACHABLE)
    err = info.value
    assert "127.0.0.1:1" in err.message
    assert "FLYWHEEL_DB_URL" in err.hint
    assert len(err.one_line().splitlines()) == 1


def test_password_is_not_shown() -> None:
    with pytest.raises(StoreUnavailableError) as info:
        open_database("postgresql+psycopg://postgres:s3cret@127.0.0.1:1/test")
    assert "s3cret" not in info.value.one_line()


@pytest.mark.parametrize("url", ["mysql://u@h/db", "not a url", "oracle://x"])
def test_unsupported_or_malformed_url(url: str) -> None:
    with pytest.raises(InvalidInputError):
        open_database(url)


def test_sqlite_runs_in_wal_with_full_sync(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'sub' / 'x.db'}")
    try:
        with db.read() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar_one() == 2  # FULL
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one() >= 1000
    finally:
        db.dispose()


def test_init_with_unreachable_database_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLYWHEEL_DB_URL", UNREACHABLE)
    with pytest.raises(StoreUnavailableError):
        fw.init_workspace(tmp_path / "new" / "ws")
    assert not (tmp_path / "new").exists()
    existing = tmp_path / "existing"
    existing.mkdir()
    (existing / "notes.txt").write_text("mine")
    with pytest.raises(StoreUnavailableError):
        fw.init_workspace(existing)
    assert sorted(p.name for p in existing.iterdir()) == ["notes.txt"]


def test_cli_init_with_unreachable_database(tmp_path: Path, cli: Cli) -> None:
    result = cli("init", "ws", "--name", "X", cwd=tmp_path, env={"FLYWHEEL_DB_URL": UNREACHABLE})
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot reach the database")
    assert list(tmp_path.iterdir()) == []


def test_init_under_a_file_is_one_error_line(tmp_path: Path, cli: Cli) -> None:
    (tmp_path / "afile").write_text("x")
    for target in ("afile/ws", "/proc/flywheel-no-such-folder"):
        result = cli("init", target, cwd=tmp_path)
        assert result.returncode == 2, result.stderr
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: cannot create a workspace"), lines
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]
