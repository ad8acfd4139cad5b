"""Metrics measured on a test table: quality (scikit-learn metrics), latency, throughput, coverage.

Quality metrics use the names of :data:`flywheel_ml.plan.KNOWN_METRICS`, so a project page's
objective and constraints find them. Latency is the wall time of ``predict`` on one row at a
time, in this process, after a warm-up; throughput is rows per second of one batch ``predict``.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import numpy.typing as npt

_LATENCY_ROWS = 200
_WARMUP_ROWS = 5


def quality(
    estimator: Any,
    X: Any,
    y: npt.NDArray[Any],
    *,
    classifier: bool,
    confidence: float,
) -> dict[str, float]:
    """The quality metrics of ``estimator`` on ``X, y`` (empty when there are no rows).

    Classifiers: accuracy, balanced_accuracy, f1_macro/micro/weighted, precision, recall
    (macro), and with probabilities log_loss, roc_auc (one-vs-rest), coverage (share of rows
    whose top probability is at least ``confidence``) and covered_accuracy (accuracy on them);
    binary problems add f1 and average_precision. Regressors: mae, mse, rmse, r2.
    """
    from sklearn import metrics as skm

    if len(y) == 0:
        return {}
    predicted = np.asarray(estimator.predict(X))
    if not classifier:
        mse = float(skm.mean_squared_error(y, predicted))
        return {
            "mae": float(skm.mean_absolute_error(y, predicted)),
            "mse": mse,
            "rmse": math.sqrt(mse),
            "r2": float(skm.r2_score(y, predicted)) if len(y) > 1 else math.nan,
        }
    out = {
        "accuracy": float(skm.accuracy_score(y, predicted)),
        "balanced_accuracy": float(skm.balanced_accuracy_score(y, predicted)),
        "f1_macro": float(skm.f1_score(y, predicted, average="macro", zero_division=0)),
        "f1_micro": float(skm.f1_score(y, predicted, average="micro", zero_division=0)),
        "f1_weighted": float(skm.f1_score(y, predicted, average="weighted", zero_division=0)),
        "precision": float(skm.precision_score(y, predicted, average="macro", zero_division=0)),
        "recall": float(skm.recall_score(y, predicted, average="macro", zero_division=0)),
    }
    classes = np.asarray(getattr(estimator, "classes_", []))
    if len(classes) == 2:
        out["f1"] = float(skm.f1_score(y, predicted, pos_label=classes[1], zero_division=0))
    if hasattr(estimator, "predict_proba"):
        proba = np.asarray(estimator.predict_proba(X), dtype=np.float64)
        top = proba.max(axis=1)
        covered = top >= confidence
        out["coverage"] = float(covered.mean())
        out["covered_accuracy"] = (
            float((predicted[covered] == y[covered]).mean()) if covered.any() else math.nan
        )
        present = set(np.unique(y).tolist())
        if present <= set(classes.tolist()) and len(present) == len(classes) > 1:
            out["log_loss"] = float(skm.log_loss(y, proba, labels=classes))
            if len(classes) == 2:
                out["roc_auc"] = float(skm.roc_auc_score(y, proba[:, 1]))
                out["average_precision"] = float(
                    skm.average_precision_score(y, proba[:, 1], pos_label=classes[1])
                )
            else:
                out["roc_auc"] = float(
                    skm.roc_auc_score(y, proba, multi_class="ovr", labels=classes)
                )
    return out


def speed(estimator: Any, X: Any) -> dict[str, float]:
    """Single-row latency p50/p95/p99 in milliseconds and batch throughput in rows per second."""
    rows = len(X)
    if rows == 0:
        return {}
    take = _row_getter(X)
    for i in range(min(_WARMUP_ROWS, rows)):
        estimator.predict(take(i))
    timings = []
    for i in range(min(_LATENCY_ROWS, rows)):
        one = take(i)
        began = time.perf_counter_ns()
        estimator.predict(one)
        timings.append((time.perf_counter_ns() - began) / 1e6)
    start = time.perf_counter()
    estimator.predict(X)
    elapsed = max(time.perf_counter() - start, 1e-9)
    p50, p95, p99 = np.percentile(np.asarray(timings), [50, 95, 99])
    return {
        "latency_p50_ms": float(p50),
        "latency_p95_ms": float(p95),
        "latency_p99_ms": float(p99),
        "throughput_rps": rows / elapsed,
    }


def _row_getter(X: Any) -> Any:
    if hasattr(X, "iloc"):
        return lambda i: X.iloc[i : i + 1]
    return lambda i: X[i : i + 1]
