"""The compiled linear kernel reproduces the estimator exactly, or is not used at all."""

from __future__ import annotations

from typing import Any

import numpy as np

from flywheel_ml.registry.kernels import compile_linear
from flywheel_ml.serve.predictors import EstimatorPredictor


def test_multiclass_kernel_matches_predict_and_predict_proba(
    digits: Any, models: dict[str, Any]
) -> None:
    X, _ = digits
    for ref, model in models.items():
        predictor = EstimatorPredictor(model, version_ref=ref)
        assert predictor.kernel is not None
        np.testing.assert_array_equal(predictor.predict(X), model.predict(X))
        np.testing.assert_allclose(predictor.predict_proba(X), model.predict_proba(X), rtol=1e-12)
        preds, _ = predictor.predict_with_proba(X)
        np.testing.assert_array_equal(preds, model.predict(X))


def test_binary_kernel_with_string_labels() -> None:
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 5))
    y = np.where(X[:, 0] + 0.3 * X[:, 1] > 0, "yes", "no")
    model = LogisticRegression().fit(X, y)
    kernel = compile_linear(model, n_features=5)
    assert kernel is not None
    np.testing.assert_array_equal(kernel.predict(X), model.predict(X))
    np.testing.assert_allclose(kernel.predict_proba(X), model.predict_proba(X), rtol=1e-12)


def test_other_estimators_and_opt_out_keep_the_estimator(
    digits: Any, models: dict[str, Any]
) -> None:
    from sklearn.tree import DecisionTreeClassifier

    X, y = digits
    tree = DecisionTreeClassifier(max_depth=3).fit(X, y)
    assert compile_linear(tree, n_features=64) is None
    plain = EstimatorPredictor(models["digits@v1"], version_ref="digits@v1", compiled=False)
    assert plain.kernel is None
    np.testing.assert_array_equal(plain.predict(X[:50]), models["digits@v1"].predict(X[:50]))
