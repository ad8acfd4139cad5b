"""ONNX export: the file predicts like the model, and both latencies are recorded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.registry.conftest import Project, make_project

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("skl2onnx")


def test_export_records_both_latencies_and_predicts_the_same(project: Project) -> None:
    ws = project.ws
    version = ws.registry.register(project.good_run, name="digits-clf")
    export, data = ws.registry.export_onnx(version.ref, rows=50)
    assert export.rows == 50 and export.size == len(data)
    assert export.agreement == 1.0
    assert export.skops_p50_ms > 0 and export.onnx_p50_ms > 0
    assert ws.objects.get_bytes(export.digest) == data
    [event] = [e for e in ws.events.recent(limit=20) if e.kind == "version.exported"]
    assert event.detail["onnx_p95_ms"] == export.onnx_p95_ms

    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    rows = ws.data.load("digits@v1", split="train")[list(version.feature_names)].head(30)
    got = session.run(None, {session.get_inputs()[0].name: rows.to_numpy(np.float32)})[0]
    model = ws.registry.load_model(version.ref)
    assert (got == model.predict(rows.to_numpy())).all()


def test_cli_export_writes_the_file(tmp_path: Path, cli: Any) -> None:
    import flywheel_ml as fw

    root = tmp_path / "ws"
    with fw.init_workspace(root, name="export") as ws:
        project = make_project(ws)
        ws.registry.register(project.good_run, name="digits-clf")
    done = cli("registry", "export", "digits-clf@v1", "--onnx", "--rows", "20", "--json", cwd=root)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert Path(root / report["path"]).is_file() and report["agreement"] == 1.0
    done = cli("registry", "export", "digits-clf@v1", cwd=root)
    assert done.returncode == 2 and "--onnx" in done.stderr
