"""train, baselines, the overfit check, learning curves and the diagnosis on real runs."""

from __future__ import annotations

from typing import Any

import pytest

from flywheel_ml.errors import InvalidInputError, NotFoundError
from flywheel_ml.tune import parse_config
from flywheel_ml.tune.diagnostics import curve_verdict, decompose
from flywheel_ml.tune.entities import CurvePoint
from tests.tune.conftest import CONFIG


def test_train_makes_one_run_with_lineage_model_and_config(digits_ws: Any) -> None:
    ws = digits_ws
    config = parse_config(CONFIG.replace("seed: 7", "seed: 7\ntrain_dev: 0.1"))
    run = ws.tune.train(config, config_text=CONFIG, name="tree")
    assert run.status == "finished"
    assert run.datasets == ("digits@v1",)  # @latest resolved: lineage names the version
    assert run.lineage.seed == 7
    assert run.params["max_depth"] == 8
    for key in ("train_accuracy", "val_accuracy", "train_dev_accuracy", "latency_p95_ms"):
        assert key in run.metrics, key
    names = {a.name for a in ws.track.list_artifacts(run.id)}
    assert {"model", "config.yaml"} <= names
    model = ws.track.load_model(run.id)
    assert model.get_params()["max_depth"] == 8
    assert ws.track.count_runs() == 1


def test_bad_config_creates_no_run(digits_ws: Any) -> None:
    with pytest.raises(InvalidInputError):
        digits_ws.tune.train(parse_config(CONFIG.replace("max_depth: 8", "depth: 8")))
    with pytest.raises(NotFoundError):
        digits_ws.tune.train(parse_config(CONFIG.replace("digits@latest", "digits@v9")))
    assert digits_ws.track.count_runs() == 0


def test_baselines_are_tagged_runs_with_floor_below_models(digits_ws: Any) -> None:
    ws = digits_ws
    runs = ws.tune.baselines("digits@v1")
    names = [r.tags["baseline"] for r in runs]
    assert names == ["majority", "stratified", "logistic-regression", "gradient-boosting"]
    assert all(r.tags["kind"] == "baseline" for r in runs)
    by_name = {r.tags["baseline"]: r.metrics["val_accuracy"] for r in runs}
    assert by_name["majority"] < 0.3
    assert by_name["logistic-regression"] > 0.8
    human = ws.tune.record_human_baseline(0.98, note="two annotators")
    assert human.tags["baseline"] == "human"
    assert ws.tune.human_baseline().id == human.id
    assert len(ws.tune.baseline_runs()) == 5
    with pytest.raises(InvalidInputError):
        ws.tune.record_human_baseline(1.5)


def test_text_baseline_uses_tfidf(sqlite_workspace: Any) -> None:
    import pandas as pd

    ws = sqlite_workspace
    words = {0: "cheap offer win money now", 1: "meeting agenda notes project"}
    rows = [{"id": f"t{i}", "text": f"{words[i % 2]} {i}", "label": i % 2} for i in range(200)]
    ws.data.add(pd.DataFrame(rows), name="mail", label="label", id="id")
    runs = ws.tune.baselines("mail@v1", text="text")
    tfidf = [r for r in runs if r.tags["baseline"] == "tfidf-logistic-regression"]
    assert tfidf and tfidf[0].metrics["val_accuracy"] > 0.9


def test_overfit_passes_for_a_flexible_model_and_fails_for_a_crippled_one(digits_ws: Any) -> None:
    ws = digits_ws
    tree = parse_config(CONFIG.replace("max_depth: 8", "max_depth: null"))
    passed = ws.tune.overfit(tree, batch_size=32)
    assert passed.passed and passed.train_score == 1.0
    crippled = parse_config(
        CONFIG.replace(
            "sklearn.tree.DecisionTreeClassifier", "sklearn.linear_model.LogisticRegression"
        ).replace("max_depth: 8", "C: 1.0e-6")
    )
    failed = ws.tune.overfit(crippled, batch_size=32)
    assert not failed.passed and failed.train_score < 0.5
    assert ws.track.get_run(failed.run_id).tags["overfit"] == "failed"


def test_learning_curve_logs_points_and_a_verdict(digits_ws: Any) -> None:
    ws = digits_ws
    curve = ws.tune.learning_curve(parse_config(CONFIG), sizes=(0.2, 0.5, 1.0))
    assert [p.fraction for p in curve.points] == [0.2, 0.5, 1.0]
    assert curve.points[0].rows < curve.points[-1].rows
    assert curve.verdict
    series = ws.tune.track.metric_series(curve.run_id, "val_accuracy")
    assert len(series) == 3
    with pytest.raises(InvalidInputError):
        ws.tune.learning_curve(parse_config(CONFIG), sizes=(0.5, 0.2))


def test_curve_verdicts() -> None:
    rising = [CurvePoint(0.5, 100, 1.0, 0.80), CurvePoint(1.0, 200, 1.0, 0.88)]
    assert curve_verdict(rising, higher_is_better=True)[1] is True
    flat = [CurvePoint(0.5, 100, 0.71, 0.70), CurvePoint(1.0, 200, 0.705, 0.70)]
    text, helps = curve_verdict(flat, higher_is_better=True)
    assert not helps and "bias" in text


def test_decompose_names_the_dominant_gap() -> None:
    gaps, dominant = decompose(
        human_error=0.01, train_error=0.15, val_error=0.16, train_dev_error=None
    )
    assert dominant == "avoidable_bias" and gaps["avoidable_bias"] == pytest.approx(0.14)
    _, dominant = decompose(
        human_error=0.01, train_error=0.01, val_error=0.11, train_dev_error=None
    )
    assert dominant == "variance"
    _, dominant = decompose(
        human_error=0.01, train_error=0.02, val_error=0.12, train_dev_error=0.03
    )
    assert dominant == "data_mismatch"
    _, dominant = decompose(
        human_error=0.01, train_error=0.012, val_error=0.015, train_dev_error=None
    )
    assert dominant == "none"


def test_diagnose_high_bias_and_high_variance_models(digits_ws: Any) -> None:
    ws = digits_ws
    ws.tune.record_human_baseline(0.99)
    stump = parse_config(CONFIG.replace("max_depth: 8", "max_depth: 1"))
    bias = ws.tune.diagnose(ws.tune.train(stump, log_model=False).id)
    assert bias.dominant == "avoidable_bias"
    assert "use a bigger model (more capacity)" in bias.remedies
    assert bias.human_error == pytest.approx(0.01)
    deep = parse_config(CONFIG.replace("max_depth: 8", "max_depth: null"))
    variance = ws.tune.diagnose(ws.tune.train(deep, log_model=False).id)
    assert variance.dominant == "variance"
    assert variance.train_error == 0.0
    assert "add more training data" in variance.remedies


def test_diagnose_needs_train_and_val_scores(digits_ws: Any) -> None:
    ws = digits_ws
    with ws.track.start_run("bare") as run:
        run.log_metric("loss", 0.1)
    with pytest.raises(NotFoundError, match="has no"):
        ws.tune.diagnose(run.id)
