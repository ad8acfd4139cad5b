"""Reliability: many processes logging at once, kill -9 after a flush, bad input."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from flywheel_ml.errors import InvalidInputError, NotFoundError

WORKER = """
import sys, flywheel_ml as fw
shared, points = sys.argv[1], int(sys.argv[2])
ws = fw.open_workspace()
with ws.track.start_run("worker") as own:
    shared_run = ws.track.start_run(run_id=shared)
    for i in range(points):
        own.log_metric("loss", float(i), step=i)
        shared_run.log_metric("hits", 1.0)
        if i % 500 == 0:
            own.flush()
    shared_run.end()
"""


def _env(ws: Any) -> dict[str, str]:
    env = {**os.environ, "FLYWHEEL_WORKSPACE": str(ws.root)}
    return env


def _run_workers(ws: Any, procs: int, points: int) -> None:
    shared = ws.track.start_run("shared")
    children = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, shared.id, str(points)],
            env=_env(ws),
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(procs)
    ]
    errors = [c.communicate(timeout=240)[1] for c in children]
    assert [c.returncode for c in children] == [0] * procs, errors
    assert not any("locked" in e for e in errors)
    shared.end()
    workers = ws.track.list_runs("name = worker and status = finished")
    assert len(workers) == procs
    for run in workers:
        series = ws.track.metric_series(run.id, "loss")
        assert series.values.tolist() == [float(i) for i in range(points)]
    hits = ws.track.get_run(shared.id).summaries["hits"]
    assert hits.count == procs * points
    assert len(ws.track.metric_series(shared.id, "hits")) == procs * points


@pytest.mark.slow
def test_eight_processes_on_sqlite_lose_nothing(sqlite_workspace: Any) -> None:
    _run_workers(sqlite_workspace, procs=8, points=2_000)


@pytest.mark.slow
@pytest.mark.postgres
def test_sixteen_processes_on_postgres_lose_nothing(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import flywheel_ml as fw

    monkeypatch.setenv("FLYWHEEL_DB_URL", pg_url)
    with fw.init_workspace(tmp_path / "pg", name="pg") as ws:
        _run_workers(ws, procs=16, points=1_000)


KILLED = """
import sys, time, flywheel_ml as fw
ws = fw.open_workspace()
run = ws.track.start_run("victim")
for i in range(5000):
    run.log_metric("loss", float(i), step=i)
run.flush()
print(run.id, flush=True)
i = 5000
while True:  # keeps logging, unflushed, until killed
    run.log_metric("loss", float(i), step=i)
    i += 1
    time.sleep(0.0001)
"""


def test_kill_9_keeps_every_flushed_point_and_shows_crashed(sqlite_workspace: Any) -> None:
    ws = sqlite_workspace
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED], env=_env(ws), stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    run_id = child.stdout.readline().strip()
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    run = ws.track.get_run(run_id)
    assert run.status == "crashed"
    values = ws.track.metric_series(run_id, "loss").values.tolist()
    assert len(values) >= 5000
    assert values[:5000] == [float(i) for i in range(5000)]
    assert values == [float(i) for i in range(len(values))]


def test_nonfinite_values_are_refused_or_skipped_by_choice(sqlite_workspace: Any) -> None:
    ws = sqlite_workspace
    with ws.track.start_run("nan") as run:
        run.log_metric("loss", 1.0)
        for bad in (math.nan, math.inf, -math.inf):
            with pytest.raises(InvalidInputError, match="finite"):
                run.log_metric("loss", bad)
        with pytest.raises(InvalidInputError, match="finite"):
            run.log_metrics({"a": 1.0, "b": math.nan})
        with pytest.raises(InvalidInputError, match="not a number"):
            run.log_metric("loss", "high")  # type: ignore[arg-type]
    got = ws.track.get_run(run.id)
    assert got.metrics == {"loss": 1.0}  # log_metrics queued nothing of the bad dict
    with ws.track.start_run("skip", skip_nonfinite=True) as run:
        run.log_metric("loss", math.nan)
        run.log_metric("loss", 2.0)
    got = ws.track.get_run(run.id)
    assert got.metrics == {"loss": 2.0}
    assert got.tags["nonfinite_skipped"] == "1"


@pytest.mark.parametrize(
    "bad",
    [
        {"params": {"a/b": 1}},
        {"params": {"../x": 1}},
        {"params": {"big": "x" * 7000}},
        {"tags": {"t\\x": "1"}},
        {"params": {"nan": math.nan}},
        {"datasets": ["../etc/passwd"]},
        {"seed": -1},
    ],
)
def test_bad_input_at_start_creates_no_run(sqlite_workspace: Any, bad: dict[str, Any]) -> None:
    ws = sqlite_workspace
    with pytest.raises(InvalidInputError):
        ws.track.start_run("bad", **bad)
    assert ws.track.count_runs() == 0


@pytest.mark.parametrize("name", ["train/loss", "a\\b", "..", "", "x" * 300, "loss\n"])
def test_metric_names_with_path_characters_are_refused(sqlite_workspace: Any, name: str) -> None:
    ws = sqlite_workspace
    with ws.track.start_run("names") as run:
        with pytest.raises(InvalidInputError, match="invalid metric name"):
            run.log_metric(name, 1.0)
    assert ws.track.get_run(run.id).metrics == {}


def test_unknown_run_and_dataset(sqlite_workspace: Any) -> None:
    ws = sqlite_workspace
    with pytest.raises(NotFoundError):
        ws.track.start_run(run_id="0" * 32)
    with pytest.raises(NotFoundError, match="no dataset"):
        ws.track.start_run("d", datasets=["nosuch@v1"])
    assert ws.track.count_runs() == 0
