"""The label stage's verbs: the label document, annotations, agreement, aggregation, queues,
suspected label errors.

>>> ws.label.set_guide(open("guide.yaml").read())                       # doctest: +SKIP
>>> ws.label.import_annotations("labels.jsonl", dataset="digits", annotator="ann1")  # +SKIP
>>> ws.label.agreement("digits").alpha_nominal                          # doctest: +SKIP

Sealed test labels: the stage reads dataset labels only through ``DataStage.load`` without a
purpose (test labels come back missing), except :meth:`LabelStage.apply`, which must carry the
test labels into the new version and reads them through the audited path (a ``data audit``
record names the read).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt

from flywheel_ml.core.clock import utc_now
from flywheel_ml.core.events import EventLog
from flywheel_ml.core.identity import current_actor
from flywheel_ml.core.ids import new_id
from flywheel_ml.core.lifecycle import Deliverable
from flywheel_ml.data.entities import DatasetVersion
from flywheel_ml.data.stage import DataStage
from flywheel_ml.data.versions import check_name
from flywheel_ml.errors import ConflictError, InvalidInputError, NotFoundError
from flywheel_ml.label.aggregation import Aggregate, dawid_skene, majority_vote
from flywheel_ml.label.agreement import AgreementReport, agreement_report
from flywheel_ml.label.annotations import RawAnnotation, class_key, read_annotations
from flywheel_ml.label.entities import (
    SOURCES,
    STRATEGIES,
    Annotation,
    Guide,
    LabelFunction,
    LabelRecord,
    Progress,
    Queue,
    QueueItem,
    Source,
    Task,
)
from flywheel_ml.label.functions import check_target, run_function
from flywheel_ml.label.guide import parse_guide
from flywheel_ml.label.queues import MODEL_STRATEGIES, assign, k_center, uncertainty_scores
from flywheel_ml.label.store import LabelStore
from flywheel_ml.label.suspects import Ranking, find_suspects, out_of_fold_probabilities

if TYPE_CHECKING:
    import pandas as pd

ANYONE = "*"
"""The annotator of a task anyone may take (production items put in with :meth:`enqueue`)."""
LABEL_SOURCE_COLUMN = "label_source"
LABEL_CONFIDENCE_COLUMN = "label_confidence"


class ProbaModel(Protocol):
    """What the label stage needs of a model: its input columns, classes and probabilities."""

    @property
    def feature_names(self) -> Sequence[str]:
        """The input columns in training order."""
        ...

    @property
    def classes(self) -> Sequence[Any]:
        """The class labels, in the column order of :meth:`predict_proba`."""
        ...

    def predict_proba(self, X: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Class probabilities, shape ``(n, len(classes))``."""
        ...


ModelLoader = Callable[[str], ProbaModel]
"""Loads a model by reference (``digits-clf@champion``); the workspace wires the registry's."""


@dataclass(frozen=True, slots=True)
class Aggregation:
    """The result of :meth:`LabelStage.aggregate`.

    Attributes:
        items: item ids, in the row order of ``probs``.
        classes: class names, in the column order of ``probs``.
        probs: ``(items, classes)`` probabilistic labels.
        sources: source names (annotators; ``lf:NAME`` for labelling functions).
        accuracy: each source's estimated accuracy; coverage: share of items it labelled.
        annotated: which items at least one human or model annotation labelled.
    """

    dataset: str
    method: str
    items: tuple[str, ...]
    classes: tuple[str, ...]
    probs: npt.NDArray[np.float64]
    sources: tuple[str, ...]
    accuracy: dict[str, float]
    coverage: dict[str, float]
    annotated: npt.NDArray[np.bool_]
    labelled: npt.NDArray[np.bool_]

    @property
    def labels(self) -> list[str | None]:
        """The most probable class of each item (None when no source voted)."""
        best = self.probs.argmax(axis=1)
        return [
            self.classes[c] if ok else None
            for c, ok in zip(best.tolist(), self.labelled.tolist(), strict=True)
        ]

    @property
    def confidence(self) -> npt.NDArray[np.float64]:
        """The probability of each item's chosen class."""
        return np.asarray(self.probs.max(axis=1, initial=0.0), dtype=np.float64)


@dataclass(frozen=True, slots=True)
class SuspectReport:
    """Likely wrong labels of a version, most likely first."""

    version: str
    checked: int
    estimated_errors: int
    items: tuple[str, ...]
    given: tuple[str, ...]
    suggested: tuple[str, ...]
    scores: tuple[float, ...]
    by: str
    probabilities: str
    queue: str | None = None


@dataclass(frozen=True, slots=True)
class TaskView:
    """A task with what the annotation page shows: the item's content and the guide."""

    task: Task
    content: Mapping[str, Any]
    guide: Guide | None
    remaining: int
    kind: str = "table"
    extra: Mapping[str, Any] = field(default_factory=dict)


class LabelStage:
    """Labels of one workspace: the guide, annotations, agreement, aggregation, queues, suspects.

    Args:
        store: where records are kept.
        data: the data stage (items, versions; new versions are added through it).
        events: the activity log.
        load_model: loads a model by reference for queues, pre-labels and suspects (None: no
            registry, model options raise NotFoundError).
    """

    def __init__(
        self,
        store: LabelStore,
        data: DataStage,
        *,
        events: EventLog,
        load_model: ModelLoader | None = None,
    ) -> None:
        self._store = store
        self._data = data
        self._events = events
        self._load_model = load_model
        self._frames: dict[str, pd.DataFrame] = {}

    # -- the label document ----------------------------------------------------------------

    def guide(self) -> Guide | None:
        """The current label document, or None before the first."""
        guides = self._store.list_guides()
        return guides[-1] if guides else None

    def guides(self) -> list[Guide]:
        """Every version of the label document, oldest first."""
        return self._store.list_guides()

    def set_guide(self, text: str) -> tuple[Guide, list[tuple[str, str]]]:
        """Store a new version of the label document from its YAML text.

        Returns:
            The new guide, and the ``(dataset, item)`` pairs labelled under older versions
            (to review under the new one). When the text equals the current guide, nothing is
            stored and the current guide is returned.

        Raises:
            InvalidInputError: the text is not a valid label document.
        """
        classes, kind, hard, notes = parse_guide(text)
        current = self.guide()
        if current is not None and (
            current.classes,
            current.kind,
            current.hard_cases,
            current.notes,
        ) == (classes, kind, hard, notes):
            return current, self.stale_items()
        actor, now = current_actor(), utc_now()
        guide = self._store.add_guide(
            lambda number: Guide(number, classes, kind, hard, notes, actor, now)
        )
        self._events.record(
            stage="label",
            kind="guide.changed",
            subject=f"guide v{guide.version}",
            detail={"classes": len(classes)},
        )
        return guide, self.stale_items()

    def stale_items(self, dataset: str | None = None) -> list[tuple[str, str]]:
        """``(dataset, item)`` whose newest human annotation was made under an older guide."""
        current = self.guide()
        if current is None:
            return []
        newest: dict[tuple[str, str], Annotation] = {}
        for a in self._store.list_annotations(dataset=dataset):
            if a.source == "human":
                newest[(a.dataset, a.item)] = a
        return sorted(key for key, a in newest.items() if (a.guide_version or 0) < current.version)

    # -- annotations -----------------------------------------------------------------------

    def annotations(self, dataset: str | None = None) -> list[Annotation]:
        """Every annotation (of one dataset), oldest first."""
        return self._store.list_annotations(dataset=dataset)

    def hard_items(self, dataset: str | None = None) -> list[Annotation]:
        """Annotations flagged hard to label, with their notes, oldest first."""
        return self._store.list_annotations(dataset=dataset, hard=True)

    def annotate(
        self,
        dataset: str,
        item: str,
        label: Any,
        *,
        annotator: str | None = None,
        source: Source = "human",
        duration_s: float | None = None,
        hard: bool = False,
        note: str = "",
        confidence: float | None = None,
        provenance: str = "",
    ) -> Annotation:
        """Record one annotation of an item of ``dataset``.

        Raises:
            NotFoundError: no such dataset or item.
            InvalidInputError: a label the label document does not allow.
        """
        raw = RawAnnotation(
            str(item), label, annotator, source, duration_s, hard, note, None, confidence
        )
        made = self._check(dataset, [raw], annotator=annotator, provenance=provenance)
        self._store.add_annotations(made)
        return made[0]

    def import_annotations(
        self,
        path: str | os.PathLike[str],
        *,
        dataset: str,
        annotator: str | None = None,
        format: str | None = None,
        id_field: str = "item",
    ) -> list[Annotation]:
        """Import annotations from JSONL, CSV or a Label Studio JSON export, all or none.

        ``annotator`` is used where a record names none (and overrides Label Studio's
        ``completed_by`` when given). Each annotation records the current guide version.

        Raises:
            InvalidInputError: a malformed record, an unknown class, no annotator.
            NotFoundError: an item the dataset does not have.
        """
        source = Path(path)
        raw = read_annotations(source, format=format, id_field=id_field)
        made = self._check(
            dataset,
            raw,
            annotator=annotator,
            provenance=f"import {source.name}",
            override=annotator is not None
            and (format or source.suffix) in ("label-studio", ".json"),
        )
        self._store.add_annotations(made)
        self._events.record(
            stage="label",
            kind="annotations.imported",
            subject=dataset,
            detail={"file": source.name, "annotations": len(made)},
        )
        return made

    def _item_ids(self, dataset: str) -> set[str]:
        version = self._data.get_version(f"{check_name(dataset)}@latest")
        return set(self._data.item_index(version))

    def _check(
        self,
        dataset: str,
        raw: Sequence[RawAnnotation],
        *,
        annotator: str | None,
        provenance: str,
        override: bool = False,
        known: set[str] | None = None,
    ) -> list[Annotation]:
        guide = self.guide()
        ids = self._item_ids(dataset) if known is None else known
        allowed = set(guide.class_names) if guide is not None and guide.classes else None
        missing = [r.item for r in raw if r.item not in ids]
        if missing:
            shown = ", ".join(repr(m) for m in missing[:5])
            raise NotFoundError(
                f"{len(missing)} item(s) are not in {dataset}: {shown}",
                hint=f"use item ids of `flywheel data show {dataset}`",
            )
        now = utc_now()
        out = []
        for r in raw:
            who = (annotator if override or r.annotator is None else r.annotator) or None
            if who is None:
                raise InvalidInputError(
                    f"line {r.line}: no annotator", hint="pass --annotator NAME"
                )
            _check_label(r.label, guide, allowed, line=r.line)
            out.append(
                Annotation(
                    id=new_id(),
                    dataset=dataset,
                    item=r.item,
                    label=r.label,
                    annotator=who,
                    source=_source(r.source),
                    created_at=r.created_at or now,
                    duration_s=r.duration_s,
                    guide_version=None if guide is None else guide.version,
                    hard=r.hard,
                    note=r.note[:2000],
                    confidence=r.confidence,
                    provenance=provenance,
                )
            )
        return out

    # -- agreement -------------------------------------------------------------------------

    def _ratings(
        self, dataset: str, *, sources: tuple[str, ...] = ("human",)
    ) -> tuple[npt.NDArray[np.int64], list[str], list[str], list[str]]:
        """``(ratings, items, annotators, classes)``: each annotator's newest class label."""
        newest: dict[tuple[str, str], str] = {}
        for a in self._store.list_annotations(dataset=dataset):
            key = class_key(a.label)
            if a.source in sources and key is not None:
                newest[(a.item, a.annotator)] = key
        guide = self.guide()
        classes = list(guide.class_names) if guide is not None and guide.classes else []
        classes += sorted({k for k in newest.values()} - set(classes), key=_natural)
        items = sorted({i for i, _ in newest})
        annotators = sorted({a for _, a in newest})
        item_index = {v: i for i, v in enumerate(items)}
        ann_index = {v: i for i, v in enumerate(annotators)}
        class_index = {v: i for i, v in enumerate(classes)}
        ratings = np.full((len(items), len(annotators)), -1, dtype=np.int64)
        if newest:
            keys = list(newest)
            rows = np.fromiter((item_index[i] for i, _ in keys), dtype=np.int64)
            cols = np.fromiter((ann_index[a] for _, a in keys), dtype=np.int64)
            ratings[rows, cols] = np.fromiter(
                (class_index[v] for v in newest.values()), dtype=np.int64
            )
        return ratings, items, annotators, classes

    def agreement(self, dataset: str, *, record: bool = True) -> AgreementReport:
        """Agreement of the human annotators of ``dataset`` (their newest label per item).

        With ``record`` (default) the result is kept as the dataset's human baseline
        (:meth:`human_baseline`).

        Raises:
            InvalidInputError: fewer than two annotators labelled a common item.
        """
        ratings, _, annotators, classes = self._ratings(dataset)
        if len(annotators) < 2 or not ((ratings >= 0).sum(axis=1) >= 2).any():
            raise InvalidInputError(
                f"agreement needs items of {dataset} labelled by at least two annotators",
                hint="create a queue with --overlap 0.2 and two or more --annotators",
            )
        report = agreement_report(
            ratings, dataset=dataset, annotators=tuple(annotators), classes=tuple(classes)
        )
        if record:
            self._store.add_record(
                LabelRecord(
                    new_id(),
                    "agreement",
                    dataset,
                    agreement_json(report),
                    current_actor(),
                    utc_now(),
                )
            )
            self._events.record(
                stage="label",
                kind="agreement.recorded",
                subject=dataset,
                detail={"alpha": _finite(report.alpha_nominal)},
            )
        return report

    def human_baseline(self, dataset: str | None = None) -> dict[str, Any] | None:
        """The newest recorded agreement (of ``dataset``, or of any) as JSON data, or None.

        Keys: ``dataset``, ``at``, ``items``, ``annotators``, ``accuracy`` (per annotator, vs
        the others' majority), ``mean_accuracy`` (the human baseline to compare models with),
        ``fleiss_kappa``, ``alpha_nominal``, ``alpha_ordinal``, ``cohen`` (per pair).
        """
        found = self._store.latest_record("agreement", dataset=dataset)
        return None if found is None else {**found.record, "at": found.at}

    # -- labelling functions and aggregation ------------------------------------------------

    def add_function(self, name: str, target: str, *, description: str = "") -> LabelFunction:
        """Register (or replace) labelling function ``name`` = ``module:function``."""
        function = LabelFunction(
            check_name(name), check_target(target), utc_now(), current_actor(), description
        )
        self._store.put_function(function)
        self._events.record(stage="label", kind="function.saved", subject=name)
        return function

    def functions(self) -> list[LabelFunction]:
        """Registered labelling functions, by name."""
        return self._store.list_functions()

    def remove_function(self, name: str) -> bool:
        """Unregister a labelling function; whether it existed."""
        return self._store.delete_function(name)

    def aggregate(
        self,
        dataset: str,
        *,
        method: str = "majority",
        functions: bool = True,
        record: bool = True,
    ) -> Aggregation:
        """Combine annotators and labelling functions into probabilistic labels.

        Sources: every annotator (human or model annotations, newest label per item) and, with
        ``functions``, every labelling function run on the newest version's items (features
        only; abstentions are None). Items: those any source labelled.

        Raises:
            InvalidInputError: an unknown method, or nothing to aggregate.
        """
        if method not in ("majority", "dawid-skene"):
            raise InvalidInputError(
                f"unknown method {method!r}", hint="use majority or dawid-skene"
            )
        ratings, items, annotators, classes = self._ratings(dataset, sources=("human", "model"))
        sources = list(annotators)
        votes = ratings
        lfs = self._store.list_functions() if functions else []
        if lfs:
            votes, items, classes = self._with_functions(dataset, lfs, votes, items, classes)
            sources += [f"lf:{f.name}" for f in lfs]
        if not items or not sources:
            raise InvalidInputError(
                f"no labels of {dataset} to aggregate",
                hint="import annotations or add labelling functions",
            )
        annotated = (votes[:, : len(annotators)] >= 0).any(axis=1)
        k = max(len(classes), 1)
        result: Aggregate = (
            dawid_skene(votes, k=k) if method == "dawid-skene" else majority_vote(votes, k=k)
        )
        out = Aggregation(
            dataset=dataset,
            method=method,
            items=tuple(items),
            classes=tuple(classes),
            probs=result.probs,
            sources=tuple(sources),
            accuracy={s: float(result.accuracy[i]) for i, s in enumerate(sources)},
            coverage={s: float(result.coverage[i]) for i, s in enumerate(sources)},
            annotated=np.asarray(annotated, dtype=bool),
            labelled=result.labelled,
        )
        if record:
            summary = {
                "method": method,
                "items": len(items),
                "sources": sources,
                "accuracy": {s: _finite(v) for s, v in out.accuracy.items()},
                "coverage": out.coverage,
            }
            self._store.add_record(
                LabelRecord(new_id(), "aggregation", dataset, summary, current_actor(), utc_now())
            )
        return out

    def _with_functions(
        self,
        dataset: str,
        lfs: Sequence[LabelFunction],
        ratings: npt.NDArray[np.int64],
        items: list[str],
        classes: list[str],
    ) -> tuple[npt.NDArray[np.int64], list[str], list[str]]:
        frame, id_col, label_col = self._frame(f"{dataset}@latest")
        features = frame.drop(
            columns=[
                c
                for c in (
                    id_col,
                    label_col,
                    "__split__",
                    LABEL_SOURCE_COLUMN,
                    LABEL_CONFIDENCE_COLUMN,
                )
                if c and c in frame.columns
            ]
        )
        ids = frame[id_col].astype(str).tolist()
        outputs = [run_function(f.target, features) for f in lfs]
        extra = sorted(
            {v for out in outputs for v in out if v is not None} - set(classes), key=_natural
        )
        classes = classes + extra
        class_index = {c: i for i, c in enumerate(classes)}
        voted_items = {ids[r] for out in outputs for r, v in enumerate(out) if v is not None}
        all_items = items + sorted(voted_items - set(items))
        row_of = {item: i for i, item in enumerate(all_items)}
        votes = np.full((len(all_items), ratings.shape[1] + len(lfs)), -1, dtype=np.int64)
        votes[: len(items), : ratings.shape[1]] = ratings
        for j, out in enumerate(outputs):
            for item, value in zip(ids, out, strict=True):
                if value is not None and item in row_of:
                    votes[row_of[item], ratings.shape[1] + j] = class_index[value]
        return votes, all_items, classes

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

    # -- queues ----------------------------------------------------------------------------

    def _frame(self, ref: str) -> tuple[pd.DataFrame, str, str | None]:
        """The version's items (test labels sealed: missing), cached per version."""
        version = self._data.get_version(ref)
        frame = self._frames.get(version.digest)
        if frame is None:
            frame = self._data.load(version.digest, with_split=True)
            self._frames = {version.digest: frame}
        id_col = str(version.facts.get("id_column") or "item_id")
        label = version.facts.get("label")
        return frame, id_col, None if label is None else str(label)

    def _features(
        self, frame: pd.DataFrame, id_col: str, label: str | None, model: ProbaModel | None
    ) -> npt.NDArray[np.float64]:
        if model is not None:
            missing = [c for c in model.feature_names if c not in frame.columns]
            if missing:
                raise InvalidInputError(
                    f"the model needs columns the data lacks: {missing[:5]}",
                    hint="use a model trained on this dataset",
                )
            return frame[list(model.feature_names)].to_numpy(dtype=np.float64)
        skip = {id_col, label, "__split__", LABEL_SOURCE_COLUMN, LABEL_CONFIDENCE_COLUMN}
        numeric = [c for c in frame.columns if c not in skip and frame[c].dtype.kind in "iufb"]
        if not numeric:
            raise InvalidInputError(
                "the dataset has no numeric feature columns",
                hint="pass --model to rank by a model, or use random",
            )
        return frame[numeric].to_numpy(dtype=np.float64)

    def model(self, ref: str) -> ProbaModel:
        """The model ``ref`` names, through the wired loader.

        Raises:
            NotFoundError: no loader is wired, or no such model.
        """
        if self._load_model is None:
            raise NotFoundError(
                f"cannot load model {ref}: no model registry is wired",
                hint="open the workspace with open_workspace()",
            )
        return self._load_model(ref)

    def create_queue(
        self,
        name: str,
        ref: str,
        *,
        strategy: str = "random",
        size: int = 100,
        model: str | None = None,
        overlap: float = 0.0,
        annotators: Sequence[str] = (),
        splits: Sequence[str] = ("train", "val"),
        include_annotated: bool = False,
        seed: int = 0,
        description: str = "",
    ) -> Queue:
        """Choose ``size`` items of version ``ref`` and assign them to ``annotators``.

        Strategies: ``random``; ``uncertainty`` (least confidence), ``margin`` and ``entropy``
        (need ``model``); ``diversity`` (k-center on the model's input columns, or on the
        numeric columns). With a model every task carries its pre-label and confidence. An
        ``overlap`` share of the items goes to every annotator, for agreement. Items already
        annotated are left out unless ``include_annotated``; test items unless ``splits``
        names ``test``.

        Raises:
            InvalidInputError: an unknown strategy, a model strategy without a model, bad
                sizes or overlap.
            ConflictError: a queue of that name exists.
        """
        check_name(name)
        if strategy not in STRATEGIES or strategy in ("suspects", "manual"):
            raise InvalidInputError(
                f"unknown strategy {strategy!r}",
                hint="random, uncertainty, margin, entropy or diversity",
            )
        if strategy in MODEL_STRATEGIES and model is None:
            raise InvalidInputError(
                f"strategy {strategy} ranks by a model's probabilities",
                hint="pass --model NAME@champion",
            )
        if size < 1:
            raise InvalidInputError("size must be at least 1", hint="--size 200")
        assignees = assign(1, list(annotators), overlap=overlap)  # validates early
        del assignees
        if self._store.get_queue(name) is not None:
            raise ConflictError(f"queue {name!r} exists", hint="choose another name")
        version = self._data.get_version(ref)
        frame, id_col, label = self._frame(version.digest)
        pool = frame["__split__"].isin(list(splits)).to_numpy().copy()
        if not include_annotated:
            done = {a.item for a in self._store.list_annotations(dataset=version.dataset)}
            pool &= ~frame[id_col].astype(str).isin(done).to_numpy()
        candidates = np.flatnonzero(pool)
        loaded = self.model(model) if model is not None else None
        probs = None
        if loaded is not None:
            X = self._features(frame.iloc[candidates], id_col, label, loaded)
            probs = np.asarray(loaded.predict_proba(X), dtype=np.float64)
        if strategy == "random":
            rng = np.random.default_rng(seed)
            order = rng.permutation(candidates.size)[:size]
            scores = None
        elif strategy == "diversity":
            X = self._features(frame.iloc[candidates], id_col, label, loaded)
            order = k_center(X, size, seed=seed)
            scores = None
        else:
            assert probs is not None
            all_scores = uncertainty_scores(probs, strategy)
            order = np.argsort(-all_scores, kind="stable")[:size]
            scores = all_scores[order]
        ids = frame[id_col].astype(str).to_numpy()[candidates[order]]
        classes = [class_key(c) for c in loaded.classes] if loaded is not None else []
        prelabels = probs[order] if probs is not None else None
        items = [
            QueueItem(
                item=str(item),
                score=None if scores is None else float(scores[i]),
                prelabel=None if prelabels is None else classes[int(prelabels[i].argmax())],
                confidence=None if prelabels is None else float(prelabels[i].max()),
                provenance=f"{strategy} from {version.ref}",
            )
            for i, item in enumerate(ids.tolist())
        ]
        queue = Queue(
            name,
            version.dataset,
            version.ref,
            strategy,
            model,
            tuple(annotators),
            overlap,
            utc_now(),
            current_actor(),
            description,
        )
        self._store.create_queue(queue, _tasks(name, items, list(annotators), overlap, seed))
        self._events.record(
            stage="label",
            kind="queue.created",
            subject=name,
            detail={"strategy": strategy, "items": len(items)},
        )
        return queue

    def enqueue(
        self,
        queue: str,
        items: Sequence[QueueItem],
        *,
        dataset: str | None = None,
        annotators: Sequence[str] = (ANYONE,),
        description: str = "",
    ) -> int:
        """Put items into queue ``queue`` (created with strategy ``manual`` when new).

        The monitor uses this to send production items back to labelling::

            ws.label.enqueue("prod-review", [QueueItem(item="req-17", data={"px0": 0.0, ...},
                             prelabel="3", confidence=0.41,
                             provenance="from production, request id req-17")],
                             dataset="digits")

        Items the dataset lacks must come with ``data`` (their feature columns); ``label
        apply`` adds them as rows. Tasks for annotator ``*`` may be taken by anyone.

        Returns:
            How many tasks were added (items already in the queue are skipped).

        Raises:
            InvalidInputError: a new queue without ``dataset``, an item without data that the
                dataset lacks, or a dataset other than the queue's.
        """
        check_name(queue)
        existing = self._store.get_queue(queue)
        if existing is None and dataset is None:
            raise InvalidInputError(
                f"queue {queue!r} is new: name its dataset", hint="pass dataset=NAME"
            )
        target = dataset or (existing.dataset if existing else "")
        if existing is not None and existing.dataset != target:
            raise InvalidInputError(
                f"queue {queue!r} holds items of {existing.dataset}",
                hint="use another queue for another dataset",
            )
        known = self._item_ids(target)
        lacking = [q.item for q in items if q.item not in known and q.data is None]
        if lacking:
            raise InvalidInputError(
                f"{len(lacking)} item(s) are not in {target} and have no data: {lacking[:3]}",
                hint="give data= (the feature columns) for new items",
            )
        who = list(existing.annotators) if existing is not None else list(annotators)
        tasks = _tasks(queue, items, who, 0.0, 0)
        if existing is None:
            q = Queue(
                queue,
                target,
                "",
                "manual",
                None,
                tuple(who),
                0.0,
                utc_now(),
                current_actor(),
                description,
            )
            self._store.create_queue(q, tasks)
            added = len(tasks)
        else:
            added = self._store.add_tasks(queue, tasks)
        self._events.record(
            stage="label", kind="queue.items_added", subject=queue, detail={"items": added}
        )
        return added

    def queues(self) -> list[Queue]:
        """Every queue, oldest first."""
        return self._store.list_queues()

    def get_queue(self, name: str) -> Queue:
        """The queue ``name``.

        Raises:
            NotFoundError: no such queue.
        """
        queue = self._store.get_queue(name)
        if queue is None:
            raise NotFoundError(f"no queue {name!r}", hint="see `flywheel label queue list`")
        return queue

    def tasks(self, name: str, *, annotator: str | None = None) -> list[Task]:
        """The tasks of a queue in queue order."""
        self.get_queue(name)
        return self._store.list_tasks(name, annotator=annotator)

    def progress(self, name: str) -> list[Progress]:
        """Open, done and skipped tasks per annotator."""
        counts: dict[str, dict[str, int]] = {}
        for task in self.tasks(name):
            entry = counts.setdefault(task.annotator, {"open": 0, "done": 0, "skipped": 0})
            entry[task.status] += 1
        return [Progress(a, c["open"], c["done"], c["skipped"]) for a, c in sorted(counts.items())]

    def next_task(self, queue: str, annotator: str) -> TaskView | None:
        """The annotator's next open task with the item's content and the guide; None when
        the annotator's part of the queue is done.

        The content never includes the dataset's label column (annotators label blind).
        """
        q = self.get_queue(queue)
        mine = [
            t
            for t in self._store.list_tasks(queue, status="open")
            if t.annotator in (annotator, ANYONE)
        ]
        if not mine:
            return None
        task = mine[0]
        content, kind = self.item_content(q, task)
        return TaskView(task, content, self.guide(), len(mine), kind)

    def item_content(self, queue: Queue, task: Task) -> tuple[dict[str, Any], str]:
        """The item's columns (no label) and its kind: ``table``, ``text`` or ``image``."""
        if task.data is not None:
            return dict(task.data), "table"
        ref = queue.version or f"{queue.dataset}@latest"
        frame, id_col, label = self._frame(ref)
        rows = frame.loc[frame[id_col].astype(str) == task.item]
        if rows.empty:
            return {}, "table"
        row = {str(k): v for k, v in rows.iloc[0].to_dict().items()}
        for column in (label or "", "__split__", LABEL_SOURCE_COLUMN, LABEL_CONFIDENCE_COLUMN):
            row.pop(column, None)
        path = str(row.get("path", ""))
        if "object" in row and path.lower().endswith((".png", ".jpg", ".jpeg", ".gif", ".webp")):
            return row, "image"
        texts = [k for k, v in row.items() if isinstance(v, str) and len(v) > 40]
        return row, "text" if texts else "table"

    def _task_for(self, queue: str, item: str, annotator: str) -> Task:
        for task in self._store.list_tasks(queue, status="open"):
            if task.item == item and task.annotator in (annotator, ANYONE):
                return task
        raise NotFoundError(
            f"{annotator} has no open task for item {item!r} in {queue}",
            hint="ask for the next task again",
        )

    def submit(
        self,
        queue: str,
        item: str,
        annotator: str,
        label: Any,
        *,
        duration_s: float | None = None,
        hard: bool = False,
        note: str = "",
    ) -> Annotation:
        """Record the annotator's label for a task and close it, in one durable transaction.

        Raises:
            NotFoundError: no open task for this item and annotator.
            InvalidInputError: a label the label document does not allow.
        """
        q = self.get_queue(queue)
        task = self._task_for(queue, item, annotator)
        known = {item}
        raw = RawAnnotation(item, label, annotator, "human", duration_s, hard, note)
        made = self._check(
            q.dataset,
            [raw],
            annotator=annotator,
            provenance=task.provenance or f"queue {queue}",
            known=known,
        )[0]
        made = Annotation(**{**_fields(made), "queue": queue})
        self._store.finish_task(
            queue, item, task.annotator, status="done", at=utc_now(), annotation=made
        )
        return made

    def skip(self, queue: str, item: str, annotator: str) -> None:
        """Close a task without a label (the item stays unlabelled by this annotator)."""
        task = self._task_for(queue, item, annotator)
        self._store.finish_task(queue, item, task.annotator, status="skipped", at=utc_now())

    def mark_hard(self, queue: str, item: str, annotator: str, *, note: str = "") -> Annotation:
        """Flag an item hard to label (no label) and close the task; it shows in ``label hard``."""
        return self.submit(queue, item, annotator, None, hard=True, note=note)

    # -- suspects --------------------------------------------------------------------------

    def suspects(
        self,
        ref: str,
        *,
        top: int | None = None,
        model: str | None = None,
        estimator: Any = None,
        folds: int = 5,
        by: Ranking = "self_confidence",
        queue: str | None = None,
        annotators: Sequence[str] = (ANYONE,),
    ) -> SuspectReport:
        """Items of version ``ref`` whose label is likely wrong, most likely first.

        Probabilities: out-of-fold ``predict_proba`` of ``estimator`` (default: standardised
        logistic regression), or the registry ``model``'s (out-of-fold only when the model
        never trained on these items). Only train and val items are checked: test labels stay
        sealed. With ``queue`` the suspects go into a review queue with the model's class as
        pre-label. The result is recorded for ``status``.

        Raises:
            InvalidInputError: an unlabelled dataset or fewer than two classes.
        """
        version = self._data.get_version(ref)
        frame, id_col, label = self._frame(version.digest)
        if label is None:
            raise InvalidInputError(
                f"{version.ref} has no labels to check", hint="label apply first"
            )
        frame = frame.loc[frame[label].notna() & (frame["__split__"] != "test")]
        given = [class_key(v) or "" for v in frame[label].tolist()]
        classes = sorted(set(given), key=_natural)
        if len(classes) < 2:
            raise InvalidInputError(
                f"{version.ref} has fewer than two classes", hint="suspects compare classes"
            )
        index = {c: i for i, c in enumerate(classes)}
        y = np.fromiter((index[g] for g in given), dtype=np.int64, count=len(given))
        if model is not None:
            loaded = self.model(model)
            raw = np.asarray(loaded.predict_proba(self._features(frame, id_col, label, loaded)))
            probs = np.zeros((len(y), len(classes)))
            for j, c in enumerate(loaded.classes):
                if class_key(c) in index:
                    probs[:, index[class_key(c) or ""]] = raw[:, j]
            source = f"model {model}"
        else:
            X = self._features(frame, id_col, label, None)
            probs = out_of_fold_probabilities(estimator or _default_estimator(), X, y, folds=folds)
            source = f"{folds}-fold out-of-fold {type(estimator or _default_estimator()).__name__}"
        found = find_suspects(y, probs, by=by)
        cut = found.indices if top is None else found.indices[:top]
        ids = frame[id_col].astype(str).to_numpy()
        report = SuspectReport(
            version=version.ref,
            checked=len(y),
            estimated_errors=found.estimated_errors,
            items=tuple(ids[cut].tolist()),
            given=tuple(classes[y[i]] for i in cut),
            suggested=tuple(classes[s] for s in found.suggested[: len(cut)]),
            scores=tuple(float(s) for s in found.scores[: len(cut)]),
            by=by,
            probabilities=source,
            queue=queue,
        )
        if queue is not None and report.items:
            rows = {int(i): r for r, i in enumerate(cut)}
            self.enqueue(
                queue,
                [
                    QueueItem(
                        item=item,
                        prelabel=sug,
                        confidence=float(probs[i, index[sug]]),
                        score=-score,
                        provenance=f"suspect: given {giv}, model says {sug}",
                    )
                    for (i, _), item, giv, sug, score in zip(
                        rows.items(),
                        report.items,
                        report.given,
                        report.suggested,
                        report.scores,
                        strict=True,
                    )
                ],
                dataset=version.dataset,
                annotators=annotators,
            )
        self._store.add_record(
            LabelRecord(
                new_id(),
                "suspects",
                version.dataset,
                {
                    "version": version.ref,
                    "checked": report.checked,
                    "estimated_errors": report.estimated_errors,
                    "listed": len(report.items),
                    "probabilities": source,
                    "queue": queue,
                },
                current_actor(),
                utc_now(),
            )
        )
        return report

    # -- status ----------------------------------------------------------------------------

    def deliverables(self) -> tuple[Deliverable, ...]:
        """Evidence for ``status``: the label document, annotations, agreement, error list."""
        guide = self.guide()
        annotations = self._store.list_annotations()
        annotators = {a.annotator for a in annotations if a.source == "human"}
        baseline = self._store.latest_record("agreement")
        suspects = self._store.latest_record("suspects")
        return (
            Deliverable(
                "label document",
                guide is not None,
                evidence=f"guide v{guide.version}, {len(guide.classes)} classes" if guide else "",
                next_step="" if guide else "flywheel label guide edit",
            ),
            Deliverable(
                "annotations with provenance",
                bool(annotations),
                evidence=f"{len(annotations):,} annotations by {len(annotators)} annotator(s)"
                if annotations
                else "",
                next_step=""
                if annotations
                else "flywheel label import FILE --dataset NAME --annotator NAME",
            ),
            Deliverable(
                "agreement",
                baseline is not None,
                evidence=f"Krippendorff's alpha {_shown(baseline.record.get('alpha_nominal'))} "
                f"on {baseline.dataset} ({baseline.at:%Y-%m-%d})"
                if baseline
                else "",
                next_step="" if baseline else "flywheel label agreement --dataset NAME",
            ),
            Deliverable(
                "label-error list",
                suspects is not None,
                evidence=f"{suspects.record.get('estimated_errors')} estimated wrong of "
                f"{suspects.record.get('checked')} in {suspects.record.get('version')}"
                if suspects
                else "",
                next_step="" if suspects else "flywheel label suspects NAME@latest",
            ),
        )


def _tasks(
    name: str, items: Sequence[QueueItem], annotators: list[str], overlap: float, seed: int
) -> list[Task]:
    who = assign(len(items), annotators, overlap=overlap, seed=seed)
    return [
        Task(
            name,
            q.item,
            a,
            position,
            "open",
            None if q.score is None else float(q.score),
            _plain(q.prelabel),
            None if q.confidence is None else float(q.confidence),
            q.provenance,
            None if q.data is None else {str(k): _plain(v) for k, v in q.data.items()},
        )
        for position, (q, people) in enumerate(zip(items, who, strict=True))
        for a in people
    ]


def _plain(value: Any) -> Any:
    """A JSON-ready value: numpy scalars become Python numbers, NaN becomes None."""
    if hasattr(value, "item") and not isinstance(value, list | dict | str):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _check_label(label: Any, guide: Guide | None, allowed: set[str] | None, *, line: int) -> None:
    if label is None:
        return
    kind = guide.kind if guide is not None else "class"
    where = f"line {line}: " if line else ""
    if kind == "class" and isinstance(label, list | dict):
        raise InvalidInputError(
            f"{where}the label document expects one class per item",
            hint="give a class name, or change the guide's kind",
        )
    keys = (
        [class_key(v) for v in label]
        if isinstance(label, list) and kind == "multi"
        else [class_key(label)]
    )
    if allowed is not None:
        bad = [k for k in keys if k is not None and k not in allowed]
        if bad:
            raise InvalidInputError(
                f"{where}label {bad[0]!r} is not a class of the label document",
                hint=f"use one of {sorted(allowed)[:10]}",
            )


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


def _source(text: str) -> Source:
    for source in SOURCES:
        if source == text:
            return source
    raise InvalidInputError(f"unknown source {text!r}", hint="use human, model or lf")


def _default_estimator() -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=300))


def _natural(text: str) -> tuple[int, float | str]:
    try:
        return (0, float(text))
    except ValueError:
        return (1, text)


def _shown(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, float) else "n/a"


def _finite(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def _fields(annotation: Annotation) -> dict[str, Any]:
    return {name: getattr(annotation, name) for name in Annotation.__slots__}


def agreement_json(report: AgreementReport) -> dict[str, Any]:
    """An agreement report as JSON data (NaN as null)."""
    return {
        "dataset": report.dataset,
        "items": report.items,
        "annotators": list(report.annotators),
        "classes": list(report.classes),
        "cohen": {k: _finite(v) for k, v in report.cohen.items()},
        "fleiss_kappa": _finite(report.fleiss_kappa),
        "alpha_nominal": _finite(report.alpha_nominal),
        "alpha_ordinal": _finite(report.alpha_ordinal),
        "accuracy": {k: _finite(v) for k, v in report.accuracy.items()},
        "support": dict(report.support),
        "mean_accuracy": _finite(report.mean_accuracy),
    }
