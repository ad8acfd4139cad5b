"""From a config to a trained model inside a run: the data splits, the estimator, the scores.

Features are every column but the id and the label unless the config lists them; a ``text``
column is turned into TF-IDF features in front of the model. The model trains on the ``train``
split and is scored on ``val``; the sealed test split is never read here.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flywheel_ml.data.stage import DataStage
from flywheel_ml.errors import InvalidInputError
from flywheel_ml.tune.configs import ExperimentConfig

SCORES: dict[str, str] = {
    "accuracy": "max",
    "balanced_accuracy": "max",
    "f1_macro": "max",
    "r2": "max",
    "rmse": "min",
    "mae": "min",
}
"""The metrics a config may optimise, with the direction in which each is better."""


@dataclass(frozen=True, slots=True)
class Splits:
    """The training and validation data of one dataset version."""

    ref: str
    features: tuple[str, ...]
    X_train: Any
    y_train: Any
    X_val: Any
    y_val: Any
    classification: bool


def check_metric(metric: str) -> str:
    """``metric`` when the tune stage can compute it.

    Raises:
        InvalidInputError: an unknown metric.
    """
    if metric not in SCORES:
        raise InvalidInputError(
            f"metric {metric!r} is not one tune computes", hint=f"use one of {', '.join(SCORES)}"
        )
    return metric


def load_splits(data: DataStage, config: ExperimentConfig) -> Splits:
    """The train and val splits of the config's dataset version as feature matrices.

    Raises:
        NotFoundError: unknown dataset or version.
        InvalidInputError: a folder dataset, a missing column, or an empty split.
    """
    import numpy as np

    version = data.get_version(config.data)
    manifest = data.manifest(version)
    if manifest["kind"] != "table":
        raise InvalidInputError(
            f"{version.ref} is a folder dataset; tune trains on tables",
            hint="add a table (CSV, Parquet, DataFrame) with one row per item",
        )
    train = data.load(version.ref, split="train")
    val = data.load(version.ref, split="val")
    columns = list(train.columns)
    if config.label not in columns:
        raise InvalidInputError(
            f"{version.ref} has no label column {config.label!r}",
            hint=f"its columns: {', '.join(columns[:20])}",
        )
    id_column = manifest.get("id_column")
    if config.text is not None:
        features = [config.text]
    elif config.features:
        features = list(config.features)
    else:
        features = [c for c in columns if c not in (config.label, id_column)]
    missing = [c for c in features if c not in columns]
    if missing:
        raise InvalidInputError(
            f"{version.ref} has no column(s) {', '.join(missing)}",
            hint=f"its columns: {', '.join(columns[:20])}",
        )
    train = train[train[config.label].notna()]
    val = val[val[config.label].notna()]
    if len(train) == 0 or len(val) == 0:
        raise InvalidInputError(
            f"{version.ref} has an empty labelled train or val split",
            hint="add data or change the split policy",
        )
    y_train = train[config.label].to_numpy()
    classification = not np.issubdtype(y_train.dtype, np.floating) or bool(
        np.all(np.mod(y_train, 1) == 0) and len(np.unique(y_train)) <= 50
    )
    if config.text is not None:
        X_train: Any = train[config.text].astype(str).to_numpy()
        X_val: Any = val[config.text].astype(str).to_numpy()
    else:
        X_train = train[features].to_numpy(dtype=float)
        X_val = val[features].to_numpy(dtype=float)
    return Splits(
        ref=version.ref,
        features=tuple(features),
        X_train=X_train,
        y_train=y_train,
        X_val=X_val,
        y_val=val[config.label].to_numpy(),
        classification=classification,
    )


def build_estimator(config: ExperimentConfig, overrides: Mapping[str, Any] | None = None) -> Any:
    """The config's estimator, behind a TF-IDF vectoriser when the config names a text column."""
    estimator = config.build(overrides)
    if config.text is None:
        return estimator
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline

    return make_pipeline(TfidfVectorizer(min_df=1), estimator)


def score(metric: str, y_true: Any, y_pred: Any) -> float:
    """``metric`` of predictions (see :data:`SCORES`)."""
    import numpy as np
    from sklearn import metrics

    if metric == "accuracy":
        return _accuracy(y_true, y_pred)
    if metric == "balanced_accuracy":
        return float(metrics.balanced_accuracy_score(y_true, y_pred))
    if metric == "f1_macro":
        return float(metrics.f1_score(y_true, y_pred, average="macro"))
    if metric == "r2":
        return float(metrics.r2_score(y_true, y_pred))
    if metric == "rmse":
        return float(np.sqrt(metrics.mean_squared_error(y_true, y_pred)))
    if metric == "mae":
        return float(metrics.mean_absolute_error(y_true, y_pred))
    raise InvalidInputError(f"unknown metric {metric!r}", hint=", ".join(SCORES))


def _accuracy(y_true: Any, y_pred: Any) -> float:
    import numpy as np

    truth, predicted = np.asarray(y_true), np.asarray(y_pred)
    plain = truth.dtype.kind in "iubU" and truth.dtype == predicted.dtype
    if plain and truth.ndim == 1 and truth.shape == predicted.shape and truth.size:
        # What accuracy_score computes for integer, boolean or string labels, without its
        # input validation (costlier than the comparison; a search scores every trial twice).
        return float(np.mean(truth == predicted))
    from sklearn.metrics import accuracy_score

    return float(accuracy_score(y_true, y_pred))


def scores(metrics: Sequence[str], estimator: Any, X: Any, y: Any) -> dict[str, float]:
    """Every metric in ``metrics`` of ``estimator`` on ``(X, y)``."""
    predicted = estimator.predict(X)
    return {m: score(m, y, predicted) for m in metrics}


def quiet_fit(estimator: Any, X: Any, y: Any) -> Any:
    """``estimator.fit(X, y)`` without convergence warnings (a short budget is deliberate)."""
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, y)
