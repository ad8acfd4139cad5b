"""The real CLI: flywheel init (config scaffold), train, baseline, tune overfit /
learning-curve / diagnose / search / show."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.tune.conftest import CONFIG

Cli = Callable[..., Any]


@pytest.fixture
def project(tmp_path: Path, cli: Cli) -> Path:
    from sklearn.datasets import load_digits

    root = tmp_path / "p"
    assert cli("init", str(root), cwd=tmp_path).returncode == 0
    assert (root / "configs" / "example.yaml").is_file()
    frame = load_digits(as_frame=True).frame.iloc[:400]
    frame.columns = [f"px{i}" for i in range(64)] + ["label"]
    frame.insert(0, "digit_id", [f"d{i:04d}" for i in range(len(frame))])
    frame.to_csv(root / "digits.csv", index=False)
    added = cli("data", "add", "digits.csv", "--name", "digits", "--label", "label", "--id",
                "digit_id", cwd=root)  # fmt: skip
    assert added.returncode == 0, added.stderr
    (root / "configs" / "tree.yaml").write_text(CONFIG)
    return root


def _json(result: Any) -> Any:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_train_baseline_and_diagnose(project: Path, cli: Cli) -> None:
    run = _json(cli("--json", "train", "configs/tree.yaml", cwd=project))
    assert run["name"] == "tree" and run["datasets"] == ["digits@v1"]
    assert "val_accuracy" in run["metrics"]
    board = _json(cli("--json", "baseline", "digits@v1", cwd=project))
    roles = {row["baseline"]: row["role"] for row in board["baselines"]}
    assert roles["majority"] == "floor"
    board = _json(cli("--json", "baseline", "human", "--value", "0.97", "--note", "2 people",
                      cwd=project))  # fmt: skip
    assert {row["baseline"]: row["role"] for row in board["baselines"]}["human"] == "ceiling"
    found = _json(cli("--json", "tune", "diagnose", run["id"][-8:], cwd=project))
    assert found["dominant"] in ("avoidable_bias", "variance", "none")
    assert found["human_error"] == pytest.approx(0.03)
    text = cli("tune", "diagnose", run["id"][-8:], cwd=project)
    assert "try:" in text.stdout


def test_overfit_and_learning_curve(project: Path, cli: Cli) -> None:
    passed = _json(cli("--json", "tune", "overfit", "configs/tree.yaml", "--batch", "32",
                       cwd=project))  # fmt: skip
    assert passed["passed"] is True
    (project / "configs" / "weak.yaml").write_text(
        CONFIG.replace(
            "sklearn.tree.DecisionTreeClassifier", "sklearn.linear_model.LogisticRegression"
        ).replace("max_depth: 8", "C: 1.0e-6")
    )
    failed = cli("tune", "overfit", "configs/weak.yaml", cwd=project)
    assert failed.returncode == 1 and "FAIL" in failed.stdout
    curve = _json(cli("--json", "tune", "learning-curve", "configs/tree.yaml", "--sizes",
                      "0.3,0.6,1.0", cwd=project))  # fmt: skip
    assert len(curve["points"]) == 3 and curve["verdict"]
    assert Path(curve["plot"]).is_file()


def test_search_then_show_with_plots(project: Path, cli: Cli) -> None:
    result = _json(cli("--json", "tune", "search", "configs/tree.yaml", "--trials", "6",
                       cwd=project))  # fmt: skip
    assert result["study"] == "tree" and result["completed"] == 6
    shown = _json(cli("--json", "tune", "show", "tree", cwd=project))
    assert len(shown["trials"]) == 6
    assert set(shown["plots"]) >= {"history", "parallel"}
    page = Path(shown["plots"]["history"]).read_text()
    assert "plotly" in page and "cdn.plot.ly" not in page.split("<body>")[0]
    listed = _json(cli("--json", "tune", "show", cwd=project))
    assert [s["name"] for s in listed["studies"]] == ["tree"]


def test_user_errors_are_one_line_exit_2(project: Path, cli: Cli) -> None:
    (project / "configs" / "bad.yaml").write_text(CONFIG.replace("seed: 7", "sed: 7"))
    bad = cli("train", "configs/bad.yaml", cwd=project)
    assert bad.returncode == 2
    assert "line 5: sed: unknown key" in bad.stderr
    assert "Traceback" not in bad.stderr
    assert cli("tune", "show", "nope", cwd=project).returncode == 2
    assert cli("baseline", "human", cwd=project).returncode == 2
