"""Models saved with skops and loaded without unpickling; unsafe bytes refused."""

from __future__ import annotations

import functools
import pickle
from typing import Any

import numpy as np
import pytest
import skops.io
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from flywheel_ml.errors import InvalidInputError, UnsafeModelError
from flywheel_ml.track import load_model, save_model


def _model() -> Any:
    rng = np.random.default_rng(0)
    X = rng.random((40, 3))
    return make_pipeline(StandardScaler(), LogisticRegression()).fit(X, X[:, 0] > 0.5), X


def test_round_trip_through_the_workspace(sqlite_workspace: Any) -> None:
    ws = sqlite_workspace
    model, X = _model()
    with ws.track.start_run("m") as run:
        artifact = run.log_model(model)
    assert artifact.kind == "model"
    assert artifact.meta["format"] == "skops"
    assert artifact.meta["estimator"] == "sklearn.pipeline.Pipeline"
    loaded = ws.track.load_model(run.id)
    assert (loaded.predict(X) == model.predict(X)).all()
    direct = load_model(artifact.digest, objects=ws.objects)
    assert (direct.predict(X) == model.predict(X)).all()
    assert ws.track.get_run(run.id).metrics["model_mb"] > 0


def test_pickles_are_refused() -> None:
    model, _ = _model()
    with pytest.raises(UnsafeModelError, match="pickle"):
        load_model(pickle.dumps(model))
    with pytest.raises(UnsafeModelError, match="not a skops file"):
        load_model(b"hello")


def test_untrusted_types_need_to_be_named() -> None:
    data = skops.io.dumps({"f": functools.partial(print)})
    with pytest.raises(UnsafeModelError, match=r"builtins\.print"):
        load_model(data)
    loaded = load_model(data, trusted=["builtins.print", "functools.partial"])
    assert isinstance(loaded["f"], functools.partial)


def test_only_estimators_are_saved_and_digests_need_a_store() -> None:
    with pytest.raises(InvalidInputError, match="only scikit-learn"):
        save_model(object())
    saved = save_model(_model()[0])
    with pytest.raises(InvalidInputError, match="no object store"):
        load_model(saved.digest)


def test_sklearn_internals_are_trusted_unless_switched_off() -> None:
    from sklearn.neural_network import MLPClassifier

    _, X = _model()
    mlp = MLPClassifier(hidden_layer_sizes=(4,), max_iter=5).fit(X, X[:, 0] > 0.5)
    data = save_model(mlp).data
    assert load_model(data).predict(X).shape == (40,)
    with pytest.raises(UnsafeModelError, match="AdamOptimizer"):
        load_model(data, trust_sklearn=False)
