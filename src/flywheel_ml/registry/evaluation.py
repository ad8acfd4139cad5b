"""Gated evaluation: score a model version on the sealed test set and judge it.

Test labels are read only through the data stage's audited read (``load(..., purpose=...)``),
so every evaluation leaves an audit record naming who read which version, when, and why (the
purpose names the model version). The evaluation measures the objective and every constraint
metric, per slice and per extra test set, judges them with :func:`flywheel_ml.plan.satisfies`,
and adds the no-regression and behavioural gates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from flywheel_ml.core.ids import new_id
from flywheel_ml.data.entities import Dataset, DatasetVersion, DataSlice, SealedRead
from flywheel_ml.data.slices import evaluate as slice_mask
from flywheel_ml.errors import InvalidInputError
from flywheel_ml.plan.entities import ProjectPage
from flywheel_ml.plan.gates import satisfies
from flywheel_ml.registry import measures
from flywheel_ml.registry.entities import (
    BehaviourCase,
    ConstraintResult,
    Evaluation,
    GateResult,
    ModelVersion,
)
from flywheel_ml.registry.gates import judge_case, no_regression
from flywheel_ml.registry.versions import is_classifier

if TYPE_CHECKING:
    import pandas as pd


class SealedData(Protocol):
    """What evaluation needs from the data stage (``ws.data`` satisfies it)."""

    def get_version(self, ref: str) -> DatasetVersion:
        """The dataset version ``ref`` names."""
        ...

    def load(self, ref: str, *, split: str | None = None, purpose: str | None = None) -> Any:
        """The items as a DataFrame; test labels need a ``purpose``, and that read is audited."""
        ...

    def list_slices(self, dataset: str | None = None) -> list[DataSlice]:
        """Saved slices of a dataset."""
        ...

    def list_datasets(self) -> list[Dataset]:
        """Every dataset (extra test sets have role ``test_set``)."""
        ...

    def audit(self, *, dataset: str | None = None) -> list[SealedRead]:
        """Every recorded read of sealed test labels, oldest first."""
        ...


@dataclass(frozen=True, slots=True)
class EvaluationOptions:
    """How to evaluate.

    Attributes:
        reason: why the sealed labels are read (recorded in the audit with the model version).
        confidence: the top-probability threshold of ``coverage`` and of ``reject`` cases.
        tolerance: how much worse than the champion the objective may be (metric units).
        dataset: the dataset version to read instead of the one the model was trained on.
    """

    reason: str = "release evaluation"
    confidence: float = 0.5
    tolerance: float = 0.0
    dataset: str | None = None


def run_evaluation(
    version: ModelVersion,
    estimator: Any,
    *,
    data: SealedData,
    page: ProjectPage,
    champion: Evaluation | None,
    cases: Sequence[tuple[BehaviourCase, pd.DataFrame]],
    options: EvaluationOptions,
    actor: str,
    at: datetime,
) -> Evaluation:
    """Measure ``estimator`` (the loaded ``version``) on the sealed test set and judge it.

    Raises:
        InvalidInputError: no dataset to evaluate on, a dataset without labels or of files,
            an empty test split, or test columns that lack the model's features.
    """
    ref = options.dataset or version.dataset
    if not ref:
        raise InvalidInputError(
            f"{version.ref} records no dataset version to evaluate on",
            hint="name one: --dataset NAME@vN (its test split is read)",
        )
    dataset_version = data.get_version(ref)
    label = _label_of(dataset_version)
    purpose = f"evaluate {version.ref}: {options.reason}"
    frame = data.load(dataset_version.ref, split="test", purpose=purpose)
    if len(frame) == 0:
        raise InvalidInputError(
            f"the test split of {dataset_version.ref} is empty",
            hint="add more data or change the split policy's test fraction",
        )
    classifier = is_classifier(estimator)
    X, y = _xy(estimator, version, frame, label, dataset_version.ref)

    metrics = measures.quality(
        estimator, X, y, classifier=classifier, confidence=options.confidence
    )
    metrics.update(measures.speed(estimator, X))
    metrics["model_mb"] = version.model_mb
    slices: dict[str, dict[str, float]] = {}
    for data_slice in data.list_slices(dataset_version.dataset):
        mask = slice_mask(data_slice.where, frame).to_numpy()
        if mask.any():
            part = X[mask] if not hasattr(X, "loc") else X.loc[mask]
            found = measures.quality(
                estimator, part, y[mask], classifier=classifier, confidence=options.confidence
            )
            slices[data_slice.name] = {**found, "rows": float(mask.sum())}
    test_sets = _extra_test_sets(estimator, version, data, options, purpose, classifier)

    verdict = satisfies(page, metrics)
    constraints = tuple(
        ConstraintResult(str(c.constraint), c.constraint.metric, c.measured, c.passed)
        for c in verdict.checks
    )
    gates = no_regression(
        page.objective,
        metrics,
        slices,
        champion=champion,
        tolerance=options.tolerance,
        dataset=dataset_version.ref,
    )
    gates += [_case_result(estimator, version, case, rows, options) for case, rows in cases]
    return Evaluation(
        id=new_id(),
        name=version.name,
        version=version.version,
        dataset=dataset_version.ref,
        purpose=purpose,
        rows=len(frame),
        metrics=_finite(metrics),
        slices={k: _finite(v) for k, v in slices.items()},
        test_sets={k: _finite(v) for k, v in test_sets.items()},
        constraints=constraints,
        gates=tuple(gates),
        objective="" if page.objective is None else page.objective.metric,
        objective_value=verdict.objective_value,
        confidence=options.confidence,
        actor=actor,
        at=at,
        extra={"tolerance": options.tolerance, "estimator": version.estimator},
    )


def _label_of(dataset_version: DatasetVersion) -> str:
    if dataset_version.facts.get("kind") == "files":
        raise InvalidInputError(
            f"{dataset_version.ref} is a folder of files; evaluation scores tables of features",
            hint="evaluate on a table dataset whose columns are the model's inputs",
        )
    label = dataset_version.facts.get("label")
    if not label:
        raise InvalidInputError(
            f"{dataset_version.ref} has no label column to score against",
            hint="add the data with --label COLUMN",
        )
    return str(label)


def _xy(
    estimator: Any, version: ModelVersion, frame: pd.DataFrame, label: str, where: str
) -> tuple[Any, np.ndarray[Any, Any]]:
    missing = [f for f in version.feature_names if f not in frame.columns]
    if missing:
        raise InvalidInputError(
            f"{where} lacks the model's input columns: {', '.join(missing[:10])}",
            hint=f"evaluate {version.ref} on data with the columns it was trained on",
        )
    labelled = frame[frame[label].notna()]
    features = labelled[list(version.feature_names)]
    # A model fitted on a plain array gets one (a DataFrame would warn about column names).
    X = (
        features
        if getattr(estimator, "feature_names_in_", None) is not None
        else features.to_numpy()
    )
    y = labelled[label].to_numpy()
    return X, _as_label_type(y, getattr(estimator, "classes_", None))


def _as_label_type(y: np.ndarray[Any, Any], classes: Any) -> np.ndarray[Any, Any]:
    # Labels come back from storage as text, numbers or nullable integers; compare them in
    # the model's own label type.
    if classes is None or len(y) == 0:
        return y
    target = np.asarray(classes).dtype
    try:
        if target.kind in "iuf":
            return y.astype(target)
        if target.kind in "USO":
            return y.astype(str)
    except (TypeError, ValueError):
        return y
    return y


def _extra_test_sets(
    estimator: Any,
    version: ModelVersion,
    data: SealedData,
    options: EvaluationOptions,
    purpose: str,
    classifier: bool,
) -> dict[str, dict[str, float]]:
    found: dict[str, dict[str, float]] = {}
    for dataset in data.list_datasets():
        if dataset.role != "test_set" or not dataset.label:
            continue
        latest = data.get_version(dataset.name)
        columns = set(latest.facts.get("schema", {}).get("columns", {}))
        if columns and not set(version.feature_names) <= columns:
            continue
        frame = data.load(latest.ref, purpose=purpose)
        if len(frame) == 0 or not set(version.feature_names) <= set(frame.columns):
            continue
        X, y = _xy(estimator, version, frame, dataset.label, latest.ref)
        found[latest.ref] = {
            **measures.quality(
                estimator, X, y, classifier=classifier, confidence=options.confidence
            ),
            "rows": float(len(y)),
        }
    return found


def _case_result(
    estimator: Any,
    version: ModelVersion,
    case: BehaviourCase,
    rows: pd.DataFrame,
    options: EvaluationOptions,
) -> GateResult:
    missing = [f for f in version.feature_names if f not in rows.columns]
    if missing:
        return GateResult(
            "behaviour", case.name, False, f"the case lacks input columns {missing[:5]}"
        )
    features = rows[list(version.feature_names)]
    X = (
        features
        if getattr(estimator, "feature_names_in_", None) is not None
        else features.to_numpy()
    )
    predicted = np.asarray(estimator.predict(X))
    top = (
        np.asarray(estimator.predict_proba(X), dtype=np.float64).max(axis=1)
        if hasattr(estimator, "predict_proba")
        else None
    )
    return judge_case(case, predicted, top, confidence=options.confidence)


def _finite(values: Mapping[str, float]) -> dict[str, float]:
    # NaN cannot be stored as JSON; a metric that could not be computed is simply absent.
    return {k: float(v) for k, v in values.items() if v is not None and np.isfinite(v)}
