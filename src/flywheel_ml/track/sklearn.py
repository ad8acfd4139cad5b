"""scikit-learn integration: fit an estimator inside a run and record what matters.

``fit(estimator, X, y, run=run, eval_sets={"val": (X_val, y_val)})`` records

* the estimator's class and every scalar hyper-parameter (``get_params(deep=True)``),
* ``train_seconds``, the wall time of ``fit``,
* scores on the training data and on each eval set: ``train_accuracy``, ``val_accuracy``,
  ``val_f1_macro`` for classifiers; ``train_r2``, ``val_r2``, ``val_rmse`` for regressors,
* ``latency_p50_ms`` / ``latency_p95_ms`` of single-row ``predict`` calls,
* the loss curve when the estimator (or a pipeline's last step) has one (``loss_curve_`` of
  MLP models: metric ``loss``),
* ``<set>_coverage`` (share of rows predicted with probability >= ``coverage_threshold``),
* the model itself (skops) unless ``log_model=False``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from flywheel_ml.errors import InvalidInputError
from flywheel_ml.track.run import ActiveRun, current_run

_LATENCY_ROWS = 50


def fit(
    estimator: Any,
    X: Any,
    y: Any,
    *,
    run: ActiveRun | None = None,
    eval_sets: Mapping[str, tuple[Any, Any]] | None = None,
    log_model: bool = True,
    coverage_threshold: float | None = None,
    **fit_params: Any,
) -> Any:
    """Fit ``estimator`` on ``X, y`` and log params, fit time, scores, latency and the model.

    Args:
        estimator: a scikit-learn estimator or pipeline.
        X, y: training data.
        run: the run to log into (default: the run most recently started in this process).
        eval_sets: name -> ``(X, y)`` scored after fitting, e.g. ``{"val": (Xv, yv)}``.
        log_model: keep the fitted model as the run's ``model`` artifact.
        coverage_threshold: also log ``<set>_coverage`` for classifiers with probabilities.
        fit_params: passed to ``estimator.fit``.

    Returns:
        The fitted estimator.

    Raises:
        InvalidInputError: no run given and none active.
    """
    from sklearn.base import is_classifier

    target = run or current_run()
    if target is None:
        raise InvalidInputError(
            "fit needs a run to log into",
            hint="call it inside `with ws.track.start_run() as run:` or pass run=run",
        )
    target.log_params(_scalar_params(estimator))
    started = time.perf_counter()
    estimator.fit(X, y, **fit_params)
    target.log_metric("train_seconds", time.perf_counter() - started, step=0)
    classifier = is_classifier(estimator)
    scores = {f"train_{k}": v for k, v in _scores(estimator, X, y, classifier).items()}
    for name, (X_eval, y_eval) in (eval_sets or {}).items():
        scores.update(
            {f"{name}_{k}": v for k, v in _scores(estimator, X_eval, y_eval, classifier).items()}
        )
        if coverage_threshold is not None and hasattr(estimator, "predict_proba"):
            top = estimator.predict_proba(X_eval).max(axis=1)
            scores[f"{name}_coverage"] = float((top >= coverage_threshold).mean())
    target.log_metrics(scores, step=0)
    sample = next(iter(eval_sets.values()))[0] if eval_sets else X
    target.log_metrics(_latency(estimator, sample), step=0)
    final = estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator
    curve = getattr(final, "loss_curve_", None)
    if curve is not None:
        for step, loss in enumerate(curve):
            target.log_metric("loss", float(loss), step=step)
    if log_model:
        target.log_model(estimator)
    return estimator


def _scalar_params(estimator: Any) -> dict[str, object]:
    cls = type(estimator)
    params: dict[str, object] = {"estimator": f"{cls.__module__}.{cls.__qualname__}"}
    for key, value in estimator.get_params(deep=True).items():
        if value is None or isinstance(value, bool | int | float | str):
            params[key.replace("__", ".")] = value
    return params


def _scores(estimator: Any, X: Any, y: Any, classifier: bool) -> dict[str, float]:
    import numpy as np
    from sklearn.metrics import accuracy_score, f1_score, mean_squared_error, r2_score

    predicted = estimator.predict(X)
    if classifier:
        return {
            "accuracy": float(accuracy_score(y, predicted)),
            "f1_macro": float(f1_score(y, predicted, average="macro")),
        }
    return {
        "r2": float(r2_score(y, predicted)),
        "rmse": float(np.sqrt(mean_squared_error(y, predicted))),
    }


def _latency(estimator: Any, X: Any) -> dict[str, float]:
    import numpy as np

    rows = X[:_LATENCY_ROWS] if not hasattr(X, "iloc") else X.iloc[:_LATENCY_ROWS]
    timings = []
    for index in range(len(rows)):
        row = rows[index : index + 1]
        started = time.perf_counter()
        estimator.predict(row)
        timings.append((time.perf_counter() - started) * 1000)
    if not timings:
        return {}
    return {
        "latency_p50_ms": float(np.percentile(timings, 50)),
        "latency_p95_ms": float(np.percentile(timings, 95)),
    }
