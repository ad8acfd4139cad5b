"""Registration saves a verified serving kernel; the resolver serves it without scikit-learn."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import numpy as np
import pytest

from flywheel_ml.backends.registry_resolver import RegistryModelResolver
from flywheel_ml.registry.kernels import LinearKernel
from flywheel_ml.serve.predictors import EstimatorPredictor, KernelPredictor
from tests.registry.conftest import Project, digits_frame


def test_registered_logistic_regression_gets_a_kernel_that_matches(project: Project) -> None:
    ws = project.ws
    version = ws.registry.register(project.good_run, name="digits-clf")
    assert version.kernel_digest is not None
    predictor = RegistryModelResolver(ws.registry).resolve("digits-clf@v1")
    assert isinstance(predictor, KernelPredictor)
    assert predictor.version_ref == "digits-clf@v1"
    X = digits_frame(300)[[f"px{i}" for i in range(64)]].to_numpy(dtype=np.float64)
    model = ws.registry.load_model("digits-clf@v1")
    np.testing.assert_array_equal(predictor.predict(X), model.predict(X))
    np.testing.assert_allclose(predictor.predict_proba(X), model.predict_proba(X), rtol=1e-9)
    labels, proba = predictor.predict_with_proba(X)
    np.testing.assert_array_equal(labels, model.predict(X))
    assert proba.shape == (300, 10)


def test_models_without_a_kernel_are_served_by_the_estimator(project: Project) -> None:
    from sklearn.naive_bayes import GaussianNB

    ws = project.ws
    train = ws.data.load("digits@latest", split="train")
    features = [f"px{i}" for i in range(64)]
    with ws.track.start_run(name="tree", datasets=["digits"]) as run:
        tree = GaussianNB()
        run.log_model(tree.fit(train[features].to_numpy(), train["label"].to_numpy()))
        run_id = str(run.id)
    version = ws.registry.register(run_id, name="digits-tree")
    assert version.kernel_digest is None
    predictor = RegistryModelResolver(ws.registry).resolve(version.ref)
    assert isinstance(predictor, EstimatorPredictor)


def test_kernel_bytes_round_trip_and_refuse_pickled_arrays() -> None:
    kernel = LinearKernel(
        coef_t=np.arange(6, dtype=np.float64).reshape(3, 2),
        intercept=np.array([0.5, -0.5]),
        classes=np.array(["cat", "dog"]),
    )
    back = LinearKernel.from_bytes(kernel.to_bytes())
    np.testing.assert_array_equal(back.coef_t, kernel.coef_t)
    np.testing.assert_array_equal(back.classes, kernel.classes)
    import io

    buffer = io.BytesIO()
    np.savez(buffer, coef_t=kernel.coef_t, intercept=kernel.intercept,
             classes=np.array([object()], dtype=object))  # fmt: skip
    with pytest.raises(ValueError, match="pickle"):
        LinearKernel.from_bytes(buffer.getvalue())


def test_gateway_process_never_imports_sklearn_for_a_kernel_version(project: Project) -> None:
    ws = project.ws
    ws.registry.register(project.good_run, name="digits-clf")
    code = (
        "import json, sys\n"
        "import numpy as np\n"
        "import flywheel_ml as fw\n"
        "from flywheel_ml.server.run import build_gateway\n"
        "ws = fw.open_workspace(sys.argv[1])\n"
        "predictor = ws.model_resolver.resolve('digits-clf@v1')\n"
        "build_gateway(ws, host='127.0.0.1', port=1, log=False)\n"
        "label = predictor.predict(np.zeros((1, 64)))[0]\n"
        "print(json.dumps({'label': int(label), "
        "'sklearn': any(m.startswith(('sklearn', 'skops', 'scipy')) for m in sys.modules)}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(ws.root)], capture_output=True, text=True, check=True
    )
    result: dict[str, Any] = json.loads(out.stdout)
    assert result["sklearn"] is False
    assert 0 <= result["label"] <= 9


def test_a_dataframe_fitted_version_gets_a_kernel_and_the_gateway_answers_like_sklearn(
    project: Project,
) -> None:
    import warnings

    from sklearn.linear_model import LogisticRegression

    from tests.serve.conftest import Client, running_gateway

    ws = project.ws
    train = ws.data.load("digits@latest", split="train")
    features = [f"px{i}" for i in range(64)]
    with ws.track.start_run(name="retrained", datasets=["digits"]) as run:
        run.log_model(LogisticRegression(max_iter=500).fit(train[features], train["label"]))
        run_id = str(run.id)
    version = ws.registry.register(run_id, name="digits-df")
    assert version.feature_names == tuple(features)
    assert version.kernel_digest is not None
    predictor = RegistryModelResolver(ws.registry).resolve(version.ref)
    assert isinstance(predictor, KernelPredictor)
    model = ws.registry.load_model(version.ref)
    frame = digits_frame(200)[features]
    ws.serve.deploy(version.ref)
    with running_gateway(ws) as gw, warnings.catch_warnings():
        warnings.simplefilter("error")  # sklearn warns when given rows without their names
        client = Client(gw.port)
        status, by_rows = client.predict({"rows": frame.to_numpy().tolist()}, model="digits-df")
        shuffled = frame[features[::-1]].to_dict(orient="records")
        status2, by_name = client.predict({"records": shuffled}, model="digits-df")
        client.close()
    assert status == status2 == 200
    assert by_rows["model_version"] == "digits-df@v1"
    assert by_rows["predictions"] == by_name["predictions"] == model.predict(frame).tolist()
    np.testing.assert_allclose(by_rows["probabilities"], model.predict_proba(frame), rtol=1e-9)


def test_a_dataframe_fitted_estimator_keeps_its_own_column_order() -> None:
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(5)
    frame = pd.DataFrame(rng.normal(size=(200, 3)), columns=["b", "a", "c"])
    model = LogisticRegression().fit(frame, (frame["b"] - frame["c"] > 0).astype(int))
    compiled = EstimatorPredictor(model, version_ref="m@v1")
    assert compiled.kernel is not None and tuple(compiled.feature_names) == ("b", "a", "c")
    np.testing.assert_array_equal(compiled.predict(frame.to_numpy()), model.predict(frame))
    reordered = EstimatorPredictor(model, version_ref="m@v1", feature_names=["a", "b", "c"])
    assert reordered.kernel is None  # names not in the fitted order: sklearn checks them
