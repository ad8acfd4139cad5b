"""What an analysis finds: errors, slices, failure clusters, comparisons, pipelines, features.

Every result is a frozen record of plain values (JSON-ready) with ``*_frame()`` methods that give
pandas DataFrames for notebooks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    import pandas as pd

SliceKind = Literal["slice", "class", "test_set"]


class Model(Protocol):
    """What analyze needs of a model: scikit-learn's ``predict`` (``predict_proba`` optional)."""

    def predict(self, X: Any) -> Any:
        """One prediction per row of ``X``."""
        ...


@dataclass(frozen=True, slots=True)
class LoadedModel:
    """A model to analyze: its reference, the fitted estimator and the columns it reads.

    Attributes:
        ref: the concrete reference, e.g. ``digits-clf@v3``.
        estimator: anything with ``predict`` (and ``predict_proba`` for calibration).
        feature_names: the input columns, in training order.
        dataset: the dataset version it was trained on (``digits@v1``), '' when unknown.
    """

    ref: str
    estimator: Model
    feature_names: tuple[str, ...]
    dataset: str = ""


ModelSource = Callable[[str], LoadedModel]
"""Loads a model by reference (the workspace wires the registry in)."""


def _frame(rows: Sequence[Any]) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame([asdict(r) for r in rows])


@dataclass(frozen=True, slots=True)
class ClassMetrics:
    """Precision, recall and F1 of one class (``precision_recall_fscore_support``)."""

    label: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True, slots=True)
class Mistake:
    """One misclassified item with the model's confidence in its wrong answer."""

    item: str
    true: str
    predicted: str
    confidence: float | None


@dataclass(frozen=True, slots=True)
class CalibrationBin:
    """One bin of the reliability diagram: mean confidence vs. observed accuracy."""

    low: float
    high: float
    rows: int
    confidence: float
    accuracy: float


@dataclass(frozen=True, slots=True)
class SliceResult:
    """Accuracy on one slice with a bootstrap confidence interval.

    Attributes:
        kind: ``slice`` (a saved filter), ``class`` (items of one true class) or ``test_set``.
        too_small: fewer rows than the analysis' minimum: the number is shown, not judged.
        delta: accuracy minus the accuracy on all rows analysed.
    """

    name: str
    kind: SliceKind
    where: str
    rows: int
    accuracy: float | None
    ci_low: float | None
    ci_high: float | None
    too_small: bool
    delta: float | None


@dataclass(frozen=True, slots=True)
class ErrorAnalysis:
    """Where a model is wrong on one split of one dataset version.

    Attributes:
        split: ``val``, ``train`` or ``test`` (a test read is audited by the data stage).
        labels: the class labels, in the order of the confusion matrix rows and columns.
        confusion: ``confusion[i][j]`` items of true class i predicted as class j.
        ece: expected calibration error over the bins (None without ``predict_proba``).
    """

    model: str
    dataset: str
    split: str
    rows: int
    errors: int
    accuracy: float
    balanced_accuracy: float
    macro_f1: float
    labels: tuple[str, ...]
    confusion: tuple[tuple[int, ...], ...]
    per_class: tuple[ClassMetrics, ...]
    top_confusions: tuple[tuple[str, str, int], ...]
    confident_mistakes: tuple[Mistake, ...]
    calibration: tuple[CalibrationBin, ...]
    ece: float | None
    slices: tuple[SliceResult, ...]

    def confusion_frame(self) -> pd.DataFrame:
        """The confusion matrix: rows are true classes, columns predicted classes."""
        import pandas as pd

        return pd.DataFrame(
            list(self.confusion), index=list(self.labels), columns=list(self.labels)
        ).rename_axis(index="true", columns="predicted")

    def per_class_frame(self) -> pd.DataFrame:
        """One row per class: precision, recall, F1, support."""
        return _frame(self.per_class)

    def mistakes_frame(self) -> pd.DataFrame:
        """The most confident mistakes, most confident first."""
        return _frame(self.confident_mistakes)

    def calibration_frame(self) -> pd.DataFrame:
        """The reliability diagram's bins."""
        return _frame(self.calibration)

    def slices_frame(self) -> pd.DataFrame:
        """Every slice, worst accuracy first."""
        return _frame(self.slices)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class SliceReport:
    """Every named slice, every class and every readable extra test set of one model."""

    model: str
    dataset: str
    split: str
    rows: int
    accuracy: float
    min_rows: int
    confidence_level: float
    slices: tuple[SliceResult, ...]
    sealed: tuple[str, ...] = ()
    """Extra test sets left out because reading them needs a purpose (an audited read)."""

    def frame(self) -> pd.DataFrame:
        """One row per slice."""
        return _frame(self.slices)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class FeatureShift:
    """How a cluster's mean differs from all analysed items on one feature (in std units)."""

    feature: str
    cluster_mean: float
    overall_mean: float
    z: float


@dataclass(frozen=True, slots=True)
class FailureCluster:
    """A group of similar mistakes found by DBSCAN.

    Attributes:
        share: the cluster's part of all mistakes.
        error_rate: the share of mistakes among ALL analysed rows within ``eps`` of the
            cluster's members (its region), to compare with the overall error rate.
        exemplars: item ids nearest the cluster's centre, most typical first.
        confusions: ``(true, predicted, count)`` pairs inside the cluster, commonest first.
        features: the features on which the cluster stands out most.
    """

    id: int
    size: int
    share: float
    error_rate: float
    exemplars: tuple[str, ...]
    items: tuple[str, ...]
    confusions: tuple[tuple[str, str, int], ...]
    features: tuple[FeatureShift, ...]


@dataclass(frozen=True, slots=True)
class ClusterAnalysis:
    """Failure clusters over the mistakes of a model on one split.

    Attributes:
        space: what was clustered (``standardized features`` or ``embedding column E``).
        eps: DBSCAN's neighbourhood radius, picked at the knee of the k-distance curve.
        error_rate: mistakes per analysed row overall.
        explanation: why no cluster was found ('' when clusters were found).
    """

    model: str
    dataset: str
    split: str
    errors: int
    error_rate: float
    space: str
    eps: float | None
    min_samples: int
    noise: int
    clusters: tuple[FailureCluster, ...]
    explanation: str = ""

    def frame(self) -> pd.DataFrame:
        """One row per cluster (size, share, exemplars, commonest confusion)."""
        import pandas as pd

        return pd.DataFrame(
            [
                {
                    "cluster": c.id,
                    "size": c.size,
                    "share": c.share,
                    "error_rate": c.error_rate,
                    "exemplars": list(c.exemplars),
                    "confusion": (
                        f"{c.confusions[0][0]}→{c.confusions[0][1]}" if c.confusions else ""
                    ),
                    "features": [f.feature for f in c.features],
                }
                for c in self.clusters
            ]
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class SliceDelta:
    """Accuracy of two models on one slice."""

    name: str
    rows: int
    before: float | None
    after: float | None
    delta: float | None


@dataclass(frozen=True, slots=True)
class ModelComparison:
    """What changed from model ``before`` to model ``after`` on the same items."""

    before: str
    after: str
    dataset: str
    split: str
    rows: int
    accuracy_before: float
    accuracy_after: float
    fixed: tuple[str, ...]
    broken: tuple[str, ...]
    slices: tuple[SliceDelta, ...]

    def frame(self) -> pd.DataFrame:
        """One row per slice with both accuracies and the delta."""
        return _frame(self.slices)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class StageAccuracy:
    """One stage of a pipeline measured three ways.

    Attributes:
        accuracy: the stage's output against its own ground truth, fed by the real upstream.
        isolated_accuracy: the same with every upstream stage replaced by its ground truth.
        upper_bound: end-to-end accuracy if this stage were perfect (the rest unchanged).
        cost: ``upper_bound - end_to_end``: what this stage's errors cost the whole.
    """

    name: str
    truth: str
    accuracy: float
    isolated_accuracy: float
    upper_bound: float
    cost: float


@dataclass(frozen=True, slots=True)
class PipelineResult:
    """End-to-end accuracy of a pipeline and what each stage's errors cost it."""

    name: str
    dataset: str
    rows: int
    end_to_end: float
    stages: tuple[StageAccuracy, ...]
    all_perfect: float = 1.0

    def frame(self) -> pd.DataFrame:
        """One row per stage."""
        return _frame(self.stages)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class FeatureImportance:
    """Permutation importance of one feature: the accuracy lost when it is shuffled."""

    feature: str
    mean: float
    std: float
    helps: bool


@dataclass(frozen=True, slots=True)
class FeatureReport:
    """Permutation importance of every feature and the ones proposed for removal."""

    model: str
    dataset: str
    split: str
    rows: int
    repeats: int
    features: tuple[FeatureImportance, ...]
    remove: tuple[str, ...]
    decision: str | None = None
    """The id of the recorded removal decision (None when nothing was recorded)."""

    def frame(self) -> pd.DataFrame:
        """One row per feature, most important first."""
        return _frame(self.features)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Decision:
    """A decision taken from an analysis (e.g. remove features), recorded in the activity log."""

    id: str
    kind: str
    subject: str
    actor: str
    at: Any
    detail: Mapping[str, Any] = field(default_factory=dict)
