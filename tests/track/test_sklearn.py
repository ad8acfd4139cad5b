"""fit(): params, fit time, scores, latency, loss curve and the model, logged into a run."""

from __future__ import annotations

from typing import Any

import pytest
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier

from flywheel_ml.errors import InvalidInputError
from flywheel_ml.track import fit


def test_fit_logs_what_matters(sqlite_workspace: Any) -> None:
    ws = sqlite_workspace
    X, y = load_digits(return_X_y=True)
    with ws.track.start_run("mlp") as run:
        model = fit(
            MLPClassifier(hidden_layer_sizes=(16,), max_iter=15, random_state=0),
            X[:1200],
            y[:1200],
            eval_sets={"val": (X[1200:], y[1200:])},
            coverage_threshold=0.5,
        )
    got = ws.track.get_run(run.id)
    assert got.params["estimator"] == "sklearn.neural_network._multilayer_perceptron.MLPClassifier"
    assert got.params["max_iter"] == 15
    for key in (
        "train_seconds",
        "train_accuracy",
        "val_accuracy",
        "val_f1_macro",
        "latency_p95_ms",
        "val_coverage",
        "model_mb",
    ):
        assert key in got.metrics, key
    assert got.metrics["val_accuracy"] == pytest.approx(model.score(X[1200:], y[1200:]))
    assert len(ws.track.metric_series(run.id, "loss")) == len(model.loss_curve_)
    assert ws.track.load_model(run.id).predict(X[:5]).tolist() == model.predict(X[:5]).tolist()


def test_fit_needs_a_run(sqlite_workspace: Any) -> None:
    X, y = load_digits(return_X_y=True)
    with pytest.raises(InvalidInputError, match="needs a run"):
        fit(LogisticRegression(), X, y)
