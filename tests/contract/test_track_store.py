"""Contract of the track stage over its store, on SQLite, PostgreSQL and REST (``any_workspace``).

Two tests of SQL internals (a second process sharing the database, two SQL stores on one
database) run on SQLite and PostgreSQL only."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from flywheel_ml.errors import ConflictError, InvalidInputError, NotFoundError
from flywheel_ml.track import RUN_ID_ENV, Run


def _ws(workspace: Any) -> Any:
    """The workspace's pieces with a track stage that accepts any dataset reference (the
    data stage's resolution is tested in tests/track/test_datasets.py)."""
    from flywheel_ml.track import TrackStage

    track = TrackStage(
        workspace.stores.store("track"), objects=workspace.objects, page=workspace.plan.get
    )
    return SimpleNamespace(
        track=track,
        objects=workspace.objects,
        events=workspace.events,
        root=workspace.root,
        workspace=workspace,
    )


def _start(ws: Any, name: str, **kw: Any) -> Any:
    return ws.track.start_run(name, **kw)


def test_a_run_round_trips_params_tags_metrics_lineage(any_workspace: Any) -> None:
    ws = _ws(any_workspace)
    with _start(
        ws, "lr", params={"C": 1.5, "solver": "lbfgs", "fit": True}, tags={"kind": "b"}
    ) as run:
        run.log_metric("loss", 0.5, step=0)
        run.log_metric("loss", 0.25, step=1)
        run.log_metrics({"val_accuracy": 0.9, "f1": 0.8})
        run.use_dataset("digits@v2")
        run.seed_everything(7)
    got = ws.track.get_run(run.id)
    assert isinstance(got, Run)
    assert got.status == "finished" and got.ended_at is not None
    assert got.params == {"C": 1.5, "solver": "lbfgs", "fit": True}
    assert got.tags == {"kind": "b"}
    assert got.metrics == {"f1": 0.8, "loss": 0.25, "val_accuracy": 0.9}
    assert got.summaries["loss"].min == 0.25 and got.summaries["loss"].max == 0.5
    assert got.summaries["loss"].count == 2
    assert got.datasets == ("digits@v2",)
    assert got.lineage.seed == 7
    assert got.lineage.python and got.lineage.packages_digest.startswith("blake3:")
    assert got.lineage.host and got.lineage.user
    names = {a.name for a in ws.track.list_artifacts(run.id)}
    assert "lineage/packages.txt" in names
    packages = ws.objects.get_bytes(ws.track.artifact(run.id, "lineage/packages.txt").digest)
    assert b"numpy==" in packages


def test_metric_history_is_in_step_order_with_every_point(any_workspace: Any) -> None:
    ws = _ws(any_workspace)
    with _start(ws, "h") as run:
        for step in [3, 1, 2, 0]:
            run.log_metric("loss", float(step) * 10, step=step)
        run.flush()
        run.log_batch("loss", [50.0, 60.0], steps=[5, 4])
    frame = ws.track.metric_history(run.id, "loss")
    assert frame["step"].tolist() == [0, 1, 2, 3, 4, 5]
    assert frame["value"].tolist() == [0.0, 10.0, 20.0, 30.0, 60.0, 50.0]
    assert str(frame["time"].dt.tz) == "UTC"
    summary = ws.track.get_run(run.id).summaries["loss"]
    assert (summary.last, summary.step, summary.count) == (50.0, 5, 6)
    assert len(ws.track.metric_series(run.id, "nothing")) == 0


def test_default_steps_count_up_per_metric(any_workspace: Any) -> None:
    ws = _ws(any_workspace)
    with _start(ws, "steps") as run:
        for value in (3.0, 2.0, 1.0):
            run.log_metric("loss", value)
    series = ws.track.metric_series(run.id, "loss")
    assert series.steps.tolist() == [0, 1, 2]
    assert series.values.tolist() == [3.0, 2.0, 1.0]


def test_a_large_history_reads_back_exactly(any_workspace: Any) -> None:
    ws = _ws(any_workspace)
    values = np.random.default_rng(0).random(250_000)
    with _start(ws, "big") as run:
        run.log_batch("x", values.tolist())
    series = ws.track.metric_series(run.id, "x")
    assert len(series) == 250_000
    assert np.array_equal(series.values, values)
    assert np.array_equal(series.steps, np.arange(250_000))


def _three_runs(ws: Any) -> list[str]:
    ids = []
    for name, c, acc, kind in [
        ("a", 1, 0.91, "base"),
        ("b", 5, 0.95, "tuned"),
        ("c", 20, 0.85, "base"),
    ]:
        with _start(ws, name, params={"C": c, "solver": "lbfgs"}, tags={"kind": kind}) as run:
            run.log_metric("val_accuracy", acc - 0.1, step=0)
            run.log_metric("val_accuracy", acc, step=1)
            run.use_dataset(f"digits@v{c}")
        ids.append(run.id)
    return ids


def test_filters_cover_metrics_params_tags_status_dataset_dates(any_workspace: Any) -> None:
    ws = _ws(any_workspace)
    _a, _b, _c = _three_runs(ws)

    def names(where: str, **kw: Any) -> list[str]:
        return sorted(r.name for r in ws.track.list_runs(where, **kw))

    assert names("metrics.val_accuracy > 0.9") == ["a", "b"]
    assert names("metrics.val_accuracy > 0.9 and params.C < 10") == ["a", "b"]
    assert names("metrics.val_accuracy > 0.9 and params.C >= 5") == ["b"]
    assert names("min(metrics.val_accuracy) < 0.8") == ["c"]
    assert names("max(metrics.val_accuracy) >= 0.95") == ["b"]
    assert names("tags.kind = base") == ["a", "c"]
    assert names("tags.kind != base") == ["b"]
    assert names("params.solver = lbfgs") == ["a", "b", "c"]
    assert names("params.solver ~ bfg") == ["a", "b", "c"]
    assert names("status = finished") == ["a", "b", "c"]
    assert names("status = running") == []
    assert names("dataset = digits@v5") == ["b"]
    assert names("dataset = digits") == ["a", "b", "c"]
    assert names("dataset != digits@v5") == ["a", "c"]
    assert names("started >= 2000-01-01 and ended < 2999-01-01") == ["a", "b", "c"]
    assert names("name ~ 'b'") == ["b"]
    # The recorded user: over REST, the token's (the server stamps it).
    user = "admin-user" if any_workspace.is_remote else "tester"
    assert names(f"user = {user}") == ["a", "b", "c"]
    assert names("metrics.nothing > 0") == []


def test_sorting_and_pagination(any_workspace: Any) -> None:
    ws = _ws(any_workspace)
    _three_runs(ws)
    with _start(ws, "no-metric"):
        pass
    order = [r.name for r in ws.track.list_runs(order_by="-metrics.val_accuracy")]
    assert order == ["b", "a", "c", "no-metric"]
    order = [r.name for r in ws.track.list_runs(order_by="metrics.val_accuracy")]
    assert order == ["c", "a", "b", "no-metric"]
    assert [r.name for r in ws.track.list_runs(order_by="params.C")][:3] == ["a", "b", "c"]
    assert [r.name for r in ws.track.list_runs()] == ["no-metric", "c", "b", "a"]
    page = ws.track.list_runs(order_by="name", limit=2, offset=1)
    assert [r.name for r in page] == ["b", "c"]
    assert ws.track.count_runs() == 4
    assert ws.track.count_runs("tags.kind = base") == 2


def test_delete_hides_and_restore_brings_back(any_workspace: Any) -> None:
    ws = _ws(any_workspace)
    a, _b, _ = _three_runs(ws)
    deleted = ws.track.delete_run(a[-8:])
    assert deleted.deleted
    assert a not in [r.id for r in ws.track.list_runs()]
    assert [r.id for r in ws.track.list_runs(only_deleted=True)] == [a]
    with pytest.raises(ConflictError):
        ws.track.delete_run(a)
    ws.track.restore_run(a)
    assert a in [r.id for r in ws.track.list_runs()]
    kinds = [e.kind for e in ws.events.recent(stage="track")]
    assert "run.deleted" in kinds and "run.restored" in kinds and "run.finished" in kinds


def test_unknown_run_ids_are_clear_errors(any_workspace: Any) -> None:
    ws = _ws(any_workspace)
    with pytest.raises(NotFoundError, match="no run"):
        ws.track.get_run("0" * 32)
    with pytest.raises(NotFoundError):
        ws.track.get_run("zz")
    with pytest.raises(NotFoundError, match="does not exist"):
        ws.track.start_run(run_id="f" * 32)
    assert ws.track.count_runs() == 0


def test_exceptions_mark_the_run_failed_and_keep_points(any_workspace: Any) -> None:
    ws = _ws(any_workspace)
    with pytest.raises(RuntimeError), _start(ws, "boom") as run:
        run.log_metric("loss", 1.0)
        raise RuntimeError("diverged")
    got = ws.track.get_run(run.id)
    assert got.status == "failed"
    assert got.metrics == {"loss": 1.0}
    with pytest.raises(ConflictError):
        run.log_metric("loss", 2.0, step=9)


def test_attach_through_the_environment(
    any_workspace: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = _ws(any_workspace)
    outer = ws.track.start_run("outer")
    monkeypatch.setenv(RUN_ID_ENV, outer.id)
    with ws.track.start_run(params={"lr": 0.1}) as inner:
        inner.log_metric("loss", 0.5)
    assert inner.id == outer.id
    assert ws.track.get_run(outer.id).status == "running"  # the owner ends it
    outer.end("finished")
    got = ws.track.get_run(outer.id)
    assert (got.status, got.params, got.metrics) == ("finished", {"lr": 0.1}, {"loss": 0.5})
    with pytest.raises(ConflictError, match="already ended"):
        ws.track.start_run()


def test_artifacts_are_content_addressed(any_workspace: Any, tmp_path: Path) -> None:
    ws = _ws(any_workspace)
    path = tmp_path / "confusion.txt"
    path.write_text("matrix")
    with _start(ws, "art") as run:
        artifact = run.log_artifact(path)
        run.log_text("notes/readme.md", "hello")
        with pytest.raises(InvalidInputError):
            run.log_text("../escape", "x")
        with pytest.raises(NotFoundError):
            run.log_artifact(tmp_path / "missing.png")
    assert ws.objects.get_bytes(artifact.digest) == b"matrix"
    names = [a.name for a in ws.track.list_artifacts(run.id)]
    assert "confusion.txt" in names and "notes/readme.md" in names


def test_crashed_runs_are_detected_by_their_dead_process(workspace: Any) -> None:
    import subprocess
    import sys

    ws = _ws(workspace)
    code = (
        "import os, flywheel_ml as fw\n"
        "ws = fw.open_workspace()\n"
        "run = ws.track.start_run('doomed')\n"
        "run.log_metric('loss', 1.0); run.flush()\n"
        "print(run.id, flush=True)\n"
        "os._exit(0)\n"  # leaves without ending the run, like a kill
    )
    env = {**os.environ, "FLYWHEEL_WORKSPACE": str(ws.root)}
    if not workspace.database.is_sqlite:
        env["FLYWHEEL_DB_URL"] = os.environ["FLYWHEEL_DB_URL"]
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    run_id = out.stdout.strip()
    got = ws.track.get_run(run_id)
    assert got.status == "crashed"
    assert got.metrics == {"loss": 1.0}
    assert [r.id for r in ws.track.list_runs("status = crashed")] == [run_id]


def test_status_shows_track_evidence(any_workspace: Any) -> None:
    ws = _ws(any_workspace)
    (before,) = ws.track.deliverables()
    assert not before.done and "flywheel run" in before.next_step
    with _start(ws, "one"):
        pass
    (after,) = ws.track.deliverables()
    assert after.done and "1 run(s)" in after.evidence


def test_two_writers_that_each_see_a_series_first_merge_its_aggregates(workspace: Any) -> None:
    # Each store caches the series ids it created; a store that meets a series another one
    # created meanwhile merges into it (insert-or-merge) instead of failing or overwriting.
    from flywheel_ml.backends.sql.track_store import SqlTrackStore

    ws = _ws(workspace)
    with _start(ws, "shared") as run:
        pass
    first, second = SqlTrackStore(workspace.database), SqlTrackStore(workspace.database)
    first.append_points({(run.id, "loss"): ([0, 1], [0.5, 0.4], [1.0, 2.0])})
    second.append_points({(run.id, "loss"): ([2, 3], [0.9, 0.1], [3.0, 4.0])})
    first.append_points({(run.id, "loss"): ([4], [0.3], [5.0])})
    many = 200  # the packing path for long series
    second.append_points(
        {(run.id, "acc"): (list(range(many)), [i / many for i in range(many)], [1.0] * many)}
    )
    got = ws.track.get_run(run.id).summaries
    assert (got["loss"].count, got["loss"].min, got["loss"].max) == (5, 0.1, 0.9)
    assert (got["loss"].last, got["loss"].step) == (0.3, 4)
    assert ws.track.metric_series(run.id, "loss").values.tolist() == [0.5, 0.4, 0.9, 0.1, 0.3]
    assert (got["acc"].count, got["acc"].last, got["acc"].step) == (many, 199 / many, 199)
