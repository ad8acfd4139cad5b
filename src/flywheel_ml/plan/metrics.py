"""The metric names a project page may use, with the direction in which each one is better."""

from __future__ import annotations

from typing import Literal

Direction = Literal["max", "min"]

KNOWN_METRICS: dict[str, tuple[Direction, str]] = {
    "accuracy": ("max", "fraction of items predicted correctly"),
    "balanced_accuracy": ("max", "mean recall over classes"),
    "f1": ("max", "F1 score of the positive class"),
    "f1_macro": ("max", "unweighted mean F1 over classes"),
    "f1_micro": ("max", "F1 over all decisions pooled"),
    "f1_weighted": ("max", "support-weighted mean F1 over classes"),
    "precision": ("max", "precision (macro over classes when multiclass)"),
    "recall": ("max", "recall (macro over classes when multiclass)"),
    "roc_auc": ("max", "area under the ROC curve (one-vs-rest when multiclass)"),
    "average_precision": ("max", "area under the precision-recall curve"),
    "log_loss": ("min", "cross-entropy of the predicted probabilities"),
    "brier_score": ("min", "mean squared error of the predicted probabilities"),
    "mae": ("min", "mean absolute error"),
    "mse": ("min", "mean squared error"),
    "rmse": ("min", "root mean squared error"),
    "r2": ("max", "coefficient of determination"),
    "latency_p50_ms": ("min", "median single-row prediction latency in milliseconds"),
    "latency_p95_ms": ("min", "95th percentile single-row prediction latency in milliseconds"),
    "latency_p99_ms": ("min", "99th percentile single-row prediction latency in milliseconds"),
    "model_mb": ("min", "size of the saved model in megabytes"),
    "coverage": ("max", "fraction of items predicted above the confidence threshold"),
    "throughput_rps": ("max", "predictions per second"),
    "train_seconds": ("min", "wall time of training in seconds"),
    "memory_mb": ("min", "peak memory of the model in megabytes"),
}


def direction_of(metric: str) -> Direction:
    """The direction in which ``metric`` is better (``*_loss``, ``*_error`` are 'min')."""
    known = KNOWN_METRICS.get(metric)
    if known is not None:
        return known[0]
    return "min" if metric.endswith(("_loss", "_error", "_ms", "_mb")) else "max"


def is_known(metric: str) -> bool:
    """Whether ``metric`` is one of :data:`KNOWN_METRICS`."""
    return metric in KNOWN_METRICS


def known_names() -> str:
    """The known metric names, comma-separated, for error messages."""
    return ", ".join(sorted(KNOWN_METRICS))
