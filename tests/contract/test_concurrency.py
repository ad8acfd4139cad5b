"""Many processes writing plan changes and events to one workspace at once.

8 processes on SQLite, 16 on PostgreSQL. Afterwards the counts are exact: revisions are numbered
1..N without gaps, the page holds every process's change (no lost update), every event is there,
and no process ever saw "database is locked".
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from flywheel_ml.config import STATE_DIR
from flywheel_ml.workspace import init_workspace, open_workspace

WRITER = r"""
import os, sys, time
from pathlib import Path
from flywheel_ml.workspace import open_workspace

root, index, rounds, go = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4])
with open_workspace(root) as ws:
    print("ready", flush=True)
    deadline = time.monotonic() + 60
    while not go.exists() and time.monotonic() < deadline:
        time.sleep(0.005)
    for j in range(rounds):
        tag = f"p{index}-{j}"
        ws.plan.set(add_references=[tag], actor=f"writer{index}")
        ws.events.record(stage="plan", kind="concurrency", subject=tag)
"""


def _run_writers(root: Path, processes: int, rounds: int, env: dict[str, str]) -> None:
    go = root / "go"
    children = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(root), str(i), str(rounds), str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **env},
        )
        for i in range(processes)
    ]
    try:
        # Release every writer at once, after all of them have opened the workspace.
        for child in children:
            assert child.stdout is not None
            assert child.stdout.readline().strip() == "ready"
        go.touch()
        outputs = [child.communicate(timeout=120) for child in children]
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
    for child, (_out, err) in zip(children, outputs, strict=True):
        assert "locked" not in err.lower(), err
        assert child.returncode == 0, err


def _check_counts(root: Path, processes: int, rounds: int) -> None:
    total = processes * rounds
    tags = {f"p{i}-{j}" for i in range(processes) for j in range(rounds)}
    with open_workspace(root) as ws:
        history = ws.plan.history()
        assert [r.revision for r in history] == list(range(1, total + 1))
        assert set(ws.plan.get().references) == tags
        assert len(ws.plan.get().references) == total
        assert {r.changed_by for r in history} == {f"writer{i}" for i in range(processes)}
        events = ws.events.recent(limit=10 * total, stage="plan")
        subjects = [e.subject for e in events if e.kind == "concurrency"]
        assert sorted(subjects) == sorted(tags)


def test_eight_processes_on_sqlite(tmp_path: Path) -> None:
    init_workspace(tmp_path / "ws", name="race").close()
    _run_writers(tmp_path / "ws", processes=8, rounds=10, env={})
    _check_counts(tmp_path / "ws", processes=8, rounds=10)
    assert (tmp_path / "ws" / STATE_DIR / "flywheel.db").is_file()


@pytest.mark.postgres
def test_sixteen_processes_on_postgres(
    tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLYWHEEL_DB_URL", pg_url)
    init_workspace(tmp_path / "ws", name="race").close()
    _run_writers(tmp_path / "ws", processes=16, rounds=5, env={"FLYWHEEL_DB_URL": pg_url})
    _check_counts(tmp_path / "ws", processes=16, rounds=5)
