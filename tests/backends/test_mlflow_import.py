"""Import of a real MLflow store (tests/fixtures/mlflow, written by MLflow 3 itself)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from flywheel_ml.backends.mlflow_import import import_mlflow
from flywheel_ml.backends.mlflow_sql_source import MlflowSqlSource
from flywheel_ml.backends.sql.track_store import SqlTrackStore
from flywheel_ml.errors import InvalidInputError, UnsafeModelError

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "mlflow"
URI = f"sqlite:///{FIXTURE / 'mlruns.db'}"
ROOTS = {"/srv/mlflow": str(FIXTURE)}


def _import(ws: Any, **options: Any) -> Any:
    source = MlflowSqlSource(URI, artifact_roots=ROOTS)
    try:
        return import_mlflow(
            source,
            track=ws.track,
            store=SqlTrackStore(ws.database),
            objects=ws.objects,
            registry=ws.registry,
            **options,
        )
    finally:
        source.close()


def _mlflow(sql: str) -> list[tuple[Any, ...]]:
    db = sqlite3.connect(f"file:{FIXTURE / 'mlruns.db'}?mode=ro", uri=True)
    try:
        return list(db.execute(sql))
    finally:
        db.close()


def test_runs_params_metric_history_tags_and_artifacts_come_across(workspace: Any) -> None:
    ws = workspace
    report = _import(ws)
    assert len(report.runs) == 4 and report.already_imported == 0
    by_name = {r.name: r for r in ws.track.list_runs()}
    assert set(by_name) == {"lr-c0.1", "lr-c1", "trial-0", "trial-1"}
    lr = by_name["lr-c1"]
    mlflow_id = _mlflow("SELECT run_uuid FROM runs WHERE name = 'lr-c1'")[0][0]
    assert lr.tags["mlflow.run_id"] == mlflow_id
    assert lr.tags["mlflow.experiment"] == "digits-baselines"
    assert lr.tags["kind"] == "baseline" and lr.tags["team"] == "vision"
    assert lr.params == {"C": "1.0", "solver": "lbfgs", "max_iter": "200"}
    assert lr.status == "finished" and by_name["trial-1"].status == "failed"
    start, end = _mlflow(f"SELECT start_time, end_time FROM runs WHERE run_uuid = '{mlflow_id}'")[0]
    assert round(lr.started_at.timestamp() * 1000) == start
    assert lr.ended_at is not None and round(lr.ended_at.timestamp() * 1000) == end
    history = ws.track.metric_history(lr.id, "loss")
    expected = _mlflow(
        f"SELECT step, value, timestamp FROM metrics WHERE run_uuid = '{mlflow_id}' "
        "AND key = 'loss' ORDER BY step"
    )
    assert list(history["step"]) == [s for s, _, _ in expected]
    assert list(history["value"]) == pytest.approx([v for _, v, _ in expected])
    assert lr.metrics["val_accuracy"] == pytest.approx(0.95)
    # Filters work on imported params (numbers given as text compare as numbers).
    found = ws.track.list_runs("params.C < 0.5 and tags.kind = 'baseline'")
    assert [r.name for r in found] == ["lr-c0.1"]
    notes = ws.track.artifact(lr.id, "docs/notes.txt")
    assert ws.objects.get_bytes(notes.digest) == b"run lr-c1\n"


def test_skops_versions_and_their_aliases_are_registered_pickles_are_refused(
    workspace: Any,
) -> None:
    ws = workspace
    report = _import(ws)
    assert report.versions == (("digits-clf/1", "digits-clf@v1"),)
    assert report.aliases == ("digits-clf@champion",)
    reasons = {s.what: s.reason for s in report.skipped}
    assert "pickle" in reasons["model digits-clf/2"]
    assert "version 2 was not imported" in reasons["alias digits-clf@previous"]
    version = ws.registry.get_version("digits-clf@champion")
    assert version.ref == "digits-clf@v1"
    lr = next(r for r in ws.track.list_runs() if r.name == "lr-c1")
    assert version.run_id == lr.id
    model = ws.registry.load_model("digits-clf@v1")
    assert type(model).__name__ == "LogisticRegression"
    (move,) = ws.registry.alias_history("digits-clf")
    assert "imported from MLflow" in move.reason
    # The pickle's bytes never became a loadable model anywhere.
    for run in ws.track.list_runs():
        for artifact in ws.track.list_artifacts(run.id):
            assert not artifact.name.endswith(".pkl") or artifact.kind == "file"
    with pytest.raises(UnsafeModelError):
        from flywheel_ml.registry.versions import open_safely

        pickled = next(FIXTURE.glob("mlartifacts/1/models/*/artifacts/model.pkl")).read_bytes()
        open_safely(pickled)


def test_importing_again_adds_nothing(workspace: Any) -> None:
    ws = workspace
    _import(ws)
    again = _import(ws)
    assert again.runs == () and again.already_imported == 4 and again.versions == ()
    assert len(ws.track.list_runs()) == 4
    assert [v.ref for v in ws.registry.list_versions()] == ["digits-clf@v1"]


def test_only_named_experiments(workspace: Any) -> None:
    report = _import(workspace, experiments=["digits-search"])
    assert sorted(r.name for r in report.runs) == ["trial-0", "trial-1"]


def test_not_an_mlflow_database_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.commit()
    with pytest.raises(InvalidInputError, match="not an MLflow tracking database"):
        MlflowSqlSource(f"sqlite:///{other}")
    with pytest.raises(InvalidInputError, match="no MLflow database"):
        MlflowSqlSource(f"sqlite:///{tmp_path / 'missing.db'}")


def test_cli_import_with_json_and_bad_artifact_root(tmp_path: Path, cli: Any) -> None:
    ws = tmp_path / "ws"
    assert cli("init", str(ws), cwd=tmp_path).returncode == 0
    bad = cli(
        "-C",
        str(ws),
        "import",
        "mlflow",
        "--tracking-uri",
        URI,
        "--artifact-root",
        "x",
        cwd=tmp_path,
    )
    assert bad.returncode == 2 and "OLD=NEW" in bad.stderr
    done = cli(
        "-C", str(ws), "--json", "import", "mlflow", "--tracking-uri", URI,
        "--artifact-root", f"/srv/mlflow={FIXTURE}", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert len(data["runs"]) == 4 and data["versions"] == [
        {"mlflow": "digits-clf/1", "ref": "digits-clf@v1"}
    ]


def test_store_of_100_runs_by_1000_points_comes_across_exactly(
    workspace: Any, tmp_path: Path
) -> None:
    # MLflow's own schema (the fixture's), filled with 100 runs x 1,000 points of one metric.
    import random
    import shutil

    db_path = tmp_path / "big.db"
    shutil.copy(FIXTURE / "mlruns.db", db_path)
    rng = random.Random(7)
    db = sqlite3.connect(db_path)
    expected: dict[str, list[tuple[int, float]]] = {}
    for r in range(100):
        run = f"{r:032x}"
        db.execute(
            "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, "
            "user_id, status, start_time, end_time, source_version, lifecycle_stage, "
            "artifact_uri, experiment_id) VALUES (?, ?, 'LOCAL', '', '', 'ann', 'FINISHED', ?, ?, "
            "'', 'active', ?, 2)",
            (run, f"bulk-{r}", 1_700_000_000_000 + r, 1_700_000_100_000 + r, f"/nowhere/{run}"),
        )
        db.execute("INSERT INTO params (key, value, run_uuid) VALUES ('lr', ?, ?)", (str(r), run))
        points = [(step, rng.random()) for step in range(1000)]
        expected[run] = points
        db.executemany(
            "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) "
            "VALUES ('loss', ?, ?, ?, ?, 0)",
            [(v, 1_700_000_000_000 + s, run, s) for s, v in points],
        )
    db.commit()
    db.close()
    source = MlflowSqlSource(f"sqlite:///{db_path}", artifact_roots=ROOTS)
    try:
        report = import_mlflow(
            source, track=workspace.track, store=SqlTrackStore(workspace.database),
            objects=workspace.objects, registry=workspace.registry, experiments=["digits-search"],
        )  # fmt: skip
    finally:
        source.close()
    bulk = {r.mlflow_id: r for r in report.runs if r.name.startswith("bulk-")}
    assert len(bulk) == 100 and all(r.points == 1000 for r in bulk.values())
    for mlflow_id, imported in bulk.items():
        series = workspace.track.metric_series(imported.run_id, "loss")
        assert list(series.steps) == [s for s, _ in expected[mlflow_id]]
        assert list(series.values) == [v for _, v in expected[mlflow_id]]
    assert workspace.track.count_runs("params.lr >= 50") == 50
