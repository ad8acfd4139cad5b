"""``flywheel analyze ...`` and ``flywheel docs error-analysis|experience`` end to end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.analyze.conftest import make_analyzed


@pytest.fixture
def project_dir(sqlite_workspace: Any) -> Path:
    make_analyzed(sqlite_workspace, rows=600)
    root = Path(sqlite_workspace.root)
    sqlite_workspace.close()
    return root


def _json(cli: Any, root: Path, *args: str) -> Any:
    done = cli("--json", *args, cwd=root)
    assert done.returncode == 0, done.stderr + done.stdout
    return json.loads(done.stdout)


def test_analyze_commands_end_to_end(cli: Any, project_dir: Path) -> None:
    errors = _json(cli, project_dir, "analyze", "errors", "digits-clf@v2", "--on", "val")
    assert errors["model"] == "digits-clf@v2" and errors["split"] == "val"
    assert errors["rows"] == sum(sum(r) for r in errors["confusion"])
    slices = _json(cli, project_dir, "analyze", "slices", "digits-clf@v1", "--min-rows", "5")
    assert any(s["name"] == "dark-centre" for s in slices["slices"])
    clusters = _json(cli, project_dir, "analyze", "clusters", "digits-clf@v2")
    assert clusters["clusters"] or clusters["explanation"]
    compare = _json(cli, project_dir, "analyze", "compare", "digits-clf@v2", "digits-clf@v1")
    assert compare["before"] == "digits-clf@v2" and compare["after"] == "digits-clf@v1"
    features = _json(cli, project_dir, "analyze", "features", "digits-clf@v1", "--repeats", "2")
    assert len(features["features"]) == 64 and features["decision"]

    human = cli("analyze", "errors", "digits-clf@v1", cwd=project_dir)
    assert human.returncode == 0 and "confusion matrix" in human.stdout

    sealed = cli("analyze", "errors", "digits-clf@v1", "--on", "test", cwd=project_dir)
    assert sealed.returncode == 2 and "sealed" in sealed.stderr.lower()
    missing = cli("analyze", "errors", "nope@v1", cwd=project_dir)
    assert missing.returncode == 2 and len(missing.stderr.strip().splitlines()) <= 2


def test_docs_commands_write_both_reports(cli: Any, project_dir: Path) -> None:
    report = _json(cli, project_dir, "docs", "error-analysis", "digits-clf@v1")
    markdown = Path(report["markdown"])
    assert markdown.is_file() and Path(report["html"]).is_file()
    assert f"**{100 * report['accuracy']:.1f}%**" in markdown.read_text()
    experience = _json(cli, project_dir, "docs", "experience")
    text = Path(experience["markdown"]).read_text()
    assert "digits-clf@v1" in text and "| digits@v1 | 600 |" in text
    status = _json(cli, project_dir, "status")
    assert "error-analysis-digits-clf-v1.md" in json.dumps(status)


def _pipeline_workspace(ws: Any) -> None:
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    n = 400
    text = rng.integers(0, 10, n)
    noisy = np.eye(10)[text] + rng.normal(0, 0.45, size=(n, 10))
    frame = pd.DataFrame(noisy, columns=[f"img{i}" for i in range(10)])
    frame["text"] = text
    frame["label"] = np.where(text >= 5, "big", "small")
    frame["item"] = [f"r{i:04d}" for i in range(n)]
    ws.plan.set(problem="receipts", objective="accuracy max")
    ws.data.add(frame, name="receipts", label="label", id="item")
    train = ws.data.load("receipts@latest", split="train")
    with ws.track.start_run(name="ocr", datasets=["receipts"]) as run:
        ocr = LogisticRegression(max_iter=500).fit(train[[f"img{i}" for i in range(10)]],
                                                   train["text"])  # fmt: skip
        run.log_model(ocr)
        ocr_run = str(run.id)
    with ws.track.start_run(name="size", datasets=["receipts"]) as run:
        size = LogisticRegression(max_iter=500).fit(train[["text"]], train["label"])
        run.log_model(size)
        size_run = str(run.id)
    ws.registry.register(ocr_run, name="ocr")
    ws.registry.register(size_run, name="size")


def test_pipeline_command_measures_registered_models(
    cli: Any, sqlite_workspace: Any, tmp_path: Path
) -> None:
    ws = sqlite_workspace
    _pipeline_workspace(ws)
    val = ws.data.load("receipts@v1", split="val")
    ocr, size = ws.registry.load_model("ocr@v1"), ws.registry.load_model("size@v1")
    read = ocr.predict(val[[f"img{i}" for i in range(10)]])
    final = size.predict(val.assign(text=read)[["text"]])
    expected = float((final == val["label"].to_numpy()).mean())
    ocr_accuracy = float((read == val["text"].to_numpy()).mean())
    root = Path(ws.root)
    ws.close()

    found = _json(cli, root, "analyze", "pipeline", "ocr@v1", "size@v1", "--data", "receipts@v1",
                  "--truth", "text", "--truth", "label")  # fmt: skip
    assert found["end_to_end"] == pytest.approx(expected)
    assert found["stages"][0]["accuracy"] == pytest.approx(ocr_accuracy)
    assert found["stages"][-1]["upper_bound"] == pytest.approx(1.0)

    # A link callable from the user's own module: feed the second model the truth + 0 offset.
    (root / "mylinks.py").write_text(
        "def size_input(frame, upstream):\n    return frame.assign(text=upstream)[['text']]\n"
    )
    linked = _json(cli, root, "analyze", "pipeline", "ocr@v1", "size@v1", "--data",
                   "receipts@v1", "--truth", "text", "--truth", "label",
                   "--link", "-", "--link", "mylinks:size_input")  # fmt: skip
    assert linked["end_to_end"] == pytest.approx(expected)
    bad = cli("analyze", "pipeline", "ocr@v1", "--data", "receipts@v1", "--truth", "text",
              "--link", "nowhere:fn", cwd=root)  # fmt: skip
    assert bad.returncode == 2 and "cannot import link" in bad.stderr
