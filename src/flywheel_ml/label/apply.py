"""``label apply``: a new dataset version with the aggregated labels, their source and
confidence per item, and the queued production items that got a label."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from flywheel_ml.data.entities import DatasetVersion
from flywheel_ml.errors import InvalidInputError
from flywheel_ml.label.annotating import LABEL_CONFIDENCE_COLUMN, LABEL_SOURCE_COLUMN
from flywheel_ml.label.consensus import Consensus

if TYPE_CHECKING:
    import pandas as pd


class Relabelling(Consensus):
    """Writes aggregated labels into a new version (see :class:`Annotating` for the arguments)."""

    def apply(
        self,
        dataset: str,
        *,
        method: str = "majority",
        message: str = "",
        min_confidence: float = 0.0,
    ) -> DatasetVersion:
        """Add a new version of ``dataset`` with the aggregated labels.

        Items labelled by an annotator get the aggregated label; items without a label get
        the labelling functions' label; other items keep theirs. Columns ``label_source``
        (``dataset``, ``annotators:METHOD``, ``functions:METHOD``) and ``label_confidence``
        are written per item. Items put in a queue with their content (:meth:`enqueue`) are
        added as new rows. The test split's labels are carried over through the audited read
        (``data audit`` shows it). Labels below ``min_confidence`` are not applied.

        Raises:
            InvalidInputError: a folder dataset, a dataset without a label column, or nothing
                to apply.
        """
        import pandas as pd

        dataset_info = self._data.get_dataset(dataset)
        if dataset_info.kind != "table" or not dataset_info.label:
            raise InvalidInputError(
                f"{dataset} is not a labelled table dataset",
                hint="label apply writes the label column of a table",
            )
        result = self.aggregate(dataset, method=method, record=False)
        latest = self._data.get_version(f"{dataset}@latest")
        test_items = int(latest.facts.get("splits", {}).get("test", {}).get("items", 0))
        purpose = (
            f"label apply: carry the sealed test labels into the next {dataset} version"
            if test_items
            else None
        )
        frame: pd.DataFrame = self._data.load(latest.digest, purpose=purpose)
        id_col = str(latest.facts.get("id_column"))
        label_col = dataset_info.label
        # Only queued items that got a label become rows: an open or skipped task would add a
        # row without one.
        labelled = {
            item
            for item, value, confidence in zip(
                result.items, result.labels, result.confidence, strict=True
            )
            if value is not None and confidence >= min_confidence
        }
        frame = self._add_queued_rows(frame, dataset, id_col, labelled=labelled)
        ids = frame[id_col].astype(str)
        position = pd.Series(np.arange(len(ids)), index=ids.to_numpy())
        missing = frame[label_col].isna().to_numpy()
        source = (
            frame[LABEL_SOURCE_COLUMN].astype(object).reset_index(drop=True)
            if LABEL_SOURCE_COLUMN in frame
            else pd.Series([None if m else "dataset" for m in missing.tolist()], dtype="object")
        )
        confidence = (
            frame[LABEL_CONFIDENCE_COLUMN].astype(float)
            if LABEL_CONFIDENCE_COLUMN in frame
            else pd.Series(np.where(frame[label_col].isna(), np.nan, 1.0))
        )
        labels = frame[label_col].astype(object).to_numpy().copy()
        chosen = result.labels
        conf = result.confidence
        has_label = ~frame[label_col].isna().to_numpy()
        changed = 0
        for r, item in enumerate(result.items):
            row = position.get(item)
            value = chosen[r]
            if row is None or value is None or conf[r] < min_confidence:
                continue
            row = int(row)
            if not result.annotated[r] and has_label[row]:
                continue  # weak labels never overwrite a label the dataset has
            labels[row] = value
            source.iat[row] = f"{'annotators' if result.annotated[r] else 'functions'}:{method}"
            confidence.iat[row] = float(conf[r])
            changed += 1
        if not changed:
            raise InvalidInputError(
                f"no aggregated label of {dataset} to apply",
                hint="import annotations first, or lower --min-confidence",
            )
        frame[label_col] = _typed(labels, frame[label_col])
        frame[LABEL_SOURCE_COLUMN] = source.to_numpy()
        frame[LABEL_CONFIDENCE_COLUMN] = confidence.to_numpy(dtype=float)
        version = self._data.add(frame, name=dataset, message=message or f"label apply ({method})")
        self._events.record(
            stage="label",
            kind="labels.applied",
            subject=version.ref,
            detail={"method": method, "items": changed},
        )
        return version

    def _add_queued_rows(
        self, frame: pd.DataFrame, dataset: str, id_col: str, *, labelled: set[str]
    ) -> pd.DataFrame:
        import pandas as pd

        have = set(frame[id_col].astype(str))
        rows: dict[str, dict[str, Any]] = {}
        for queue in self._store.list_queues():
            if queue.dataset != dataset:
                continue
            for task in self._store.list_tasks(queue.name):
                if task.data is not None and task.item not in have and task.item in labelled:
                    rows[task.item] = {**task.data, id_col: task.item}
        if not rows:
            return frame
        extra = pd.DataFrame(list(rows.values()))
        unknown = set(extra.columns) - set(frame.columns)
        if unknown:
            raise InvalidInputError(
                f"queued items have columns the dataset lacks: {sorted(unknown)[:5]}",
                hint="enqueue items with the dataset's feature columns",
            )
        if frame[id_col].dtype.kind in "iuf":
            extra[id_col] = pd.to_numeric(extra[id_col], errors="raise")
        return pd.concat([frame, extra], ignore_index=True)


def _typed(values: npt.NDArray[Any], like: pd.Series) -> Any:
    import pandas as pd

    series = pd.Series(values, dtype=object)
    if like.dtype.kind in "iuf":
        try:
            numeric = pd.to_numeric(series, errors="raise")
        except (ValueError, TypeError):
            raise InvalidInputError(
                "aggregated labels are not numbers but the label column is",
                hint="use numeric class names in the label document",
            ) from None
        if like.dtype.kind in "iu" and not numeric.isna().any():
            return numeric.astype(like.dtype)
        return numeric
    return series.where(series.notna(), None)
