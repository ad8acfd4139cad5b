"""Scoring a model on one split of a dataset version: the rows every analysis starts from.

Labels are read through the data stage: ``val`` and ``train`` freely, ``test`` (and named extra
test sets) only with a purpose, which makes the data stage record an audited read. Predictions are
compared in the model's own label type and reported as text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt

from flywheel_ml.analyze.entities import LoadedModel
from flywheel_ml.data.entities import Dataset, DatasetVersion, DataSlice
from flywheel_ml.errors import InvalidInputError

if TYPE_CHECKING:
    import pandas as pd

ANALYSIS_SPLITS = ("val", "train", "test")


class DataSource(Protocol):
    """What analyze needs from the data stage (``ws.data`` satisfies it)."""

    def get_version(self, ref: str) -> DatasetVersion:
        """The dataset version ``ref`` names."""
        ...

    def load(self, ref: str, *, split: str | None = None, purpose: str | None = None) -> Any:
        """Items as a DataFrame; test labels need a ``purpose`` and that read is audited."""
        ...

    def list_slices(self, dataset: str | None = None) -> list[DataSlice]:
        """Saved slices of a dataset."""
        ...

    def list_datasets(self) -> list[Dataset]:
        """Every dataset (extra test sets have role ``test_set``)."""
        ...


@dataclass(frozen=True, slots=True)
class Scored:
    """A model's predictions on the labelled rows of one split.

    Attributes:
        frame: the labelled rows (every column of the dataset), index 0..n-1.
        X: the model's input, as the model expects it (array or DataFrame).
        y: the labels in the model's own label type (what scikit-learn scorers compare with).
        y_true / y_pred: labels as text.
        correct: whether each prediction equals the label (compared in the model's label type).
        proba: class probabilities ``(n, k)`` in the order of ``classes``, or None.
    """

    model: LoadedModel
    dataset: DatasetVersion
    split: str
    frame: pd.DataFrame
    X: Any
    y: npt.NDArray[Any]
    ids: npt.NDArray[np.str_]
    y_true: npt.NDArray[np.str_]
    y_pred: npt.NDArray[np.str_]
    correct: npt.NDArray[np.bool_]
    proba: npt.NDArray[np.float64] | None
    classes: tuple[str, ...]

    @property
    def rows(self) -> int:
        """How many labelled rows were scored."""
        return len(self.ids)

    @property
    def confidence(self) -> npt.NDArray[np.float64] | None:
        """The top class probability of each row, or None without ``predict_proba``."""
        return None if self.proba is None else self.proba.max(axis=1)


def label_column(version: DatasetVersion) -> str:
    """The label column of a table version.

    Raises:
        InvalidInputError: a folder dataset or a dataset without labels.
    """
    if version.facts.get("kind") == "files":
        raise InvalidInputError(
            f"{version.ref} is a folder of files; analysis scores tables of features",
            hint="analyze on a table dataset whose columns are the model's inputs",
        )
    label = version.facts.get("label")
    if not label:
        raise InvalidInputError(
            f"{version.ref} has no label column to compare predictions with",
            hint="add the data with --label COLUMN",
        )
    return str(label)


def model_input(model: LoadedModel, frame: pd.DataFrame, *, where: str) -> Any:
    """The model's input columns of ``frame`` (an array unless it was fitted on a DataFrame).

    Raises:
        InvalidInputError: ``frame`` lacks some of the model's columns.
    """
    missing = [f for f in model.feature_names if f not in frame.columns]
    if missing:
        raise InvalidInputError(
            f"{where} lacks the input columns of {model.ref}: {', '.join(missing[:10])}",
            hint="analyze on data with the columns the model was trained on",
        )
    features = frame[list(model.feature_names)]
    if getattr(model.estimator, "feature_names_in_", None) is not None:
        return features
    return features.to_numpy()


def score_frame(
    model: LoadedModel, version: DatasetVersion, split: str, frame: pd.DataFrame, label: str
) -> Scored:
    """Predict every labelled row of ``frame`` with ``model``.

    Raises:
        InvalidInputError: no labelled rows, missing input columns, or a model without
            ``predict``.
    """
    labelled = frame[frame[label].notna()].reset_index(drop=True)
    if len(labelled) == 0:
        raise InvalidInputError(
            f"the {split} rows of {version.ref} hold no labels",
            hint="analyze another split (--on val or --on train)",
        )
    X = model_input(model, labelled, where=f"{version.ref} ({split})")
    estimator: Any = model.estimator
    predicted = np.asarray(estimator.predict(X))
    classes_attr = getattr(estimator, "classes_", None)
    truth = _as_type(labelled[label].to_numpy(), predicted.dtype)
    correct = np.asarray(predicted == truth, dtype=bool)
    proba = None
    classes: tuple[str, ...] = ()
    if hasattr(estimator, "predict_proba") and classes_attr is not None:
        proba = np.asarray(estimator.predict_proba(X), dtype=np.float64)
        classes = tuple(str(c) for c in classes_attr)
    id_column = version.facts.get("id_column")
    ids = (
        labelled[id_column].astype(str).to_numpy()
        if id_column and id_column in labelled.columns
        else np.asarray([str(i) for i in range(len(labelled))])
    )
    return Scored(
        model=model, dataset=version, split=split, frame=labelled, X=X, y=truth,
        ids=ids.astype(str), y_true=_text(truth), y_pred=_text(predicted),
        correct=correct, proba=proba, classes=classes,
    )  # fmt: skip


def score(
    model: LoadedModel,
    data: DataSource,
    *,
    on: str = "val",
    dataset: str | None = None,
    purpose: str | None = None,
) -> Scored:
    """Score ``model`` on split ``on`` of ``dataset`` (by default the version it trained on).

    Raises:
        InvalidInputError: an unknown split, no dataset to read, a dataset without labels.
        SealedTestError: ``on="test"`` without a ``purpose`` (with one, the read is audited).
    """
    if on not in ANALYSIS_SPLITS:
        raise InvalidInputError(
            f"cannot analyze on {on!r}", hint="use --on val (the normal case), train or test"
        )
    ref = dataset or model.dataset
    if not ref:
        raise InvalidInputError(
            f"{model.ref} records no dataset version",
            hint="name one with --data NAME@vN",
        )
    version = data.get_version(ref)
    label = label_column(version)
    frame = data.load(
        version.ref, split=on, purpose=None if on != "test" else _purpose(model, purpose)
    )
    return score_frame(model, version, on, frame, label)


def _purpose(model: LoadedModel, purpose: str | None) -> str | None:
    # The data stage refuses a test read without a purpose; the audit names the model.
    return None if not purpose else f"analyze {model.ref}: {purpose}"


def _as_type(values: npt.NDArray[Any], dtype: np.dtype[Any]) -> npt.NDArray[Any]:
    # Labels come back from storage as text, numbers or nullable integers.
    try:
        if dtype.kind in "iuf":
            return values.astype(dtype)
        if dtype.kind in "USO":
            return values.astype(str)
    except (TypeError, ValueError):
        pass
    return values


def _text(values: npt.NDArray[Any]) -> npt.NDArray[np.str_]:
    if values.dtype.kind == "f" and np.all(np.mod(values, 1) == 0):
        values = values.astype(np.int64)
    return np.asarray([str(v) for v in values.tolist()], dtype=str)
