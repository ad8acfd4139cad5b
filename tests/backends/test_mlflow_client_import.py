"""Import of MLflow stores written by MLflow itself (the ``mlflow`` extra), read through MLflow's
own client; and the direct SQL reader checked against that client on the same store."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from flywheel_ml.backends.mlflow_import import import_mlflow
from flywheel_ml.backends.mlflow_sources import open_mlflow_source
from flywheel_ml.backends.sql.track_store import SqlTrackStore
from flywheel_ml.errors import InvalidInputError
from tests.backends.mlflow_store_maker import BULK_POINTS, BULK_RUNS, bulk_points

pytest.importorskip("mlflow")

MAKER = Path(__file__).with_name("mlflow_store_maker.py")
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "mlflow"
QUIET = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}


@pytest.fixture(scope="module")
def mlruns(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A file store written by MLflow: the models experiment and 100 x 1,000 bulk points."""
    folder = tmp_path_factory.mktemp("mlflow")
    store = folder / "mlruns"
    done = subprocess.run(
        [sys.executable, str(MAKER), store.as_uri(), "--bulk"], cwd=folder, capture_output=True,
        text=True, check=False, env={**os.environ, **QUIET, "MLFLOW_ALLOW_FILE_STORE": "true"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return store


def _import(ws: Any, uri: str, **options: Any) -> Any:
    source = open_mlflow_source(uri)
    try:
        return import_mlflow(
            source, track=ws.track, store=SqlTrackStore(ws.database), objects=ws.objects,
            registry=ws.registry, **options,
        )  # fmt: skip
    finally:
        source.close()


def test_100_runs_by_1000_points_come_across_exactly_and_only_once(
    workspace: Any, mlruns: Path
) -> None:
    report = _import(workspace, str(mlruns), experiments=["bulk"])
    bulk = {r.name: r for r in report.runs}
    assert len(bulk) == BULK_RUNS and all(r.points == BULK_POINTS for r in bulk.values())
    for number in range(BULK_RUNS):
        imported = bulk[f"bulk-{number}"]
        expected = bulk_points(number)
        series = workspace.track.metric_series(imported.run_id, "loss")
        assert list(series.steps) == [s for s, _, _ in expected]
        assert list(series.values) == [v for _, v, _ in expected]
    run = workspace.track.get_run(bulk["bulk-7"].run_id)
    assert run.params == {"lr": "7"} and run.tags["kind"] == "bulk" and run.tags["batch"] == "yes"
    assert round(run.started_at.timestamp() * 1000) == 1_700_000_070_000
    assert run.ended_at is not None and round(run.ended_at.timestamp() * 1000) == 1_700_000_075_000
    assert run.tags["mlflow.experiment"] == "bulk" and run.status == "finished"
    assert workspace.track.count_runs("params.lr >= 50") == 50
    again = _import(workspace, str(mlruns), experiments=["bulk"])
    assert again.runs == () and again.already_imported == BULK_RUNS
    assert workspace.track.count_runs() == BULK_RUNS


def test_models_aliases_artifacts_and_statuses_through_the_client(
    workspace: Any, mlruns: Path
) -> None:
    ws = workspace
    report = _import(ws, mlruns.as_uri(), experiments=["models"])
    assert sorted(r.name for r in report.runs) == ["crashed", "lr"]
    assert report.versions == (("digits-clf/1", "digits-clf@v1"),)
    assert report.aliases == ("digits-clf@champion",)
    reasons = {s.what: s.reason for s in report.skipped}
    assert "pickle" in reasons["model digits-clf/2"]
    assert "version 2 was not imported" in reasons["alias digits-clf@previous"]
    assert any(r == "deleted in MLflow" for r in reasons.values())
    runs = {r.name: r for r in ws.track.list_runs()}
    lr = runs["lr"]
    assert lr.params == {"C": "1.0", "solver": "lbfgs"} and lr.tags["team"] == "vision"
    assert runs["crashed"].status == "failed"
    history = ws.track.metric_history(lr.id, "loss")
    assert list(history["step"]) == [0, 1, 3]  # the NaN point is not kept; no duplicates
    assert list(history["value"]) == [0.9, 0.5, 0.25]
    notes = ws.track.artifact(lr.id, "docs/notes.txt")
    assert ws.objects.get_bytes(notes.digest) == b"lr notes\n"
    version = ws.registry.get_version("digits-clf@champion")
    assert version.run_id == lr.id
    assert type(ws.registry.load_model("digits-clf@v1")).__name__ == "LogisticRegression"
    again = _import(ws, mlruns.as_uri(), experiments=["models"])
    assert again.runs == () and again.versions == () and again.aliases == ()
    assert [v.ref for v in ws.registry.list_versions()] == ["digits-clf@v1"]


def test_sql_reader_and_mlflows_client_read_the_same_store_alike(tmp_path: Path) -> None:
    # The committed store MLflow 3 wrote (a copy: MLflow's client may touch the file).
    shutil.copy(FIXTURE / "mlruns.db", tmp_path / "mlruns.db")
    uri = f"sqlite:///{tmp_path / 'mlruns.db'}"
    roots = {"/srv/mlflow": str(FIXTURE)}
    sql = open_mlflow_source(uri, artifact_roots=roots)
    client = open_mlflow_source(uri, artifact_roots=roots, reader="client")
    try:
        assert type(sql).__name__ == "MlflowSqlSource"
        assert type(client).__name__ == "MlflowClientSource"
        assert sql.experiments() == client.experiments()
        assert sql.runs() == client.runs() and len(sql.runs()) == 4
        for run in sql.runs():
            rid = run.mlflow_id
            assert sql.params(rid) == client.params(rid)
            assert sql.tags(rid) == client.tags(rid)
            assert repr(sql.metrics(rid)) == repr(client.metrics(rid))  # NaN-aware
            assert list(sql.files(run.artifact_uri)) == list(client.files(run.artifact_uri))
        assert sql.model_versions() == client.model_versions()
        assert sql.aliases() == client.aliases() == [
            ("digits-clf", "champion", 1), ("digits-clf", "previous", 2)
        ]  # fmt: skip
    finally:
        sql.close()
        client.close()


def test_cli_imports_a_file_store_and_refuses_bad_uris(
    tmp_path: Path, cli: Any, mlruns: Path
) -> None:
    ws = tmp_path / "ws"
    assert cli("init", str(ws), cwd=tmp_path).returncode == 0
    args = ("-C", str(ws), "--json", "import", "mlflow", "--experiment", "models")
    done = cli(*args, "--tracking-uri", str(mlruns), cwd=tmp_path, env=QUIET)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert sorted(r["name"] for r in data["runs"]) == ["crashed", "lr"]
    assert data["versions"] == [{"mlflow": "digits-clf/1", "ref": "digits-clf@v1"}]
    again = json.loads(cli(*args, "--tracking-uri", str(mlruns), cwd=tmp_path, env=QUIET).stdout)
    assert again["runs"] == [] and again["already_imported"] == 2
    for extra, message in (
        (["--tracking-uri", str(tmp_path / "nothing")], "no MLflow file store"),
        (["--tracking-uri", str(mlruns), "--reader", "sql"], "not a database URL"),
        (["--tracking-uri", str(mlruns), "--reader", "rest"], "no reader 'rest'"),
    ):
        bad = cli(*args, *extra, cwd=tmp_path, env=QUIET)
        assert bad.returncode == 2 and message in bad.stderr, bad.stderr
    assert not (tmp_path / "nothing").exists()  # MLflow was not let create a store


def test_client_reader_without_mlflow_says_which_extra_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "mlflow", None)
    with pytest.raises(InvalidInputError, match="needs MLflow's client") as raised:
        open_mlflow_source(str(tmp_path))
    assert "pip install 'flywheel-ml[mlflow]'" in raised.value.hint
