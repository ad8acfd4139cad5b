"""The base of the label stage: the label document, annotations (checked against the guide and
the dataset's items), and reading a version's items and features for queues and suspects.

:class:`Annotating` holds what every part of :class:`~flywheel_ml.label.stage.LabelStage`
shares (the store, the data stage, the activity log, the model loader, a cache of the newest
version read); the other parts extend it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt

from flywheel_ml.core.clock import utc_now
from flywheel_ml.core.events import EventLog
from flywheel_ml.core.identity import current_actor
from flywheel_ml.core.ids import new_id
from flywheel_ml.data.stage import DataStage
from flywheel_ml.data.versions import check_name
from flywheel_ml.errors import InvalidInputError, NotFoundError
from flywheel_ml.label.annotations import RawAnnotation, class_key, read_annotations
from flywheel_ml.label.entities import SOURCES, Annotation, Guide, Source
from flywheel_ml.label.guide import parse_guide
from flywheel_ml.label.store import LabelStore

if TYPE_CHECKING:
    import pandas as pd

ANYONE = "*"
"""The annotator of a task anyone may take (production items put in with ``enqueue``)."""
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


class Annotating:
    """The label document, annotations and item access of one workspace's labels.

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

    # -- a version's items -----------------------------------------------------------------

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


def _source(text: str) -> Source:
    for source in SOURCES:
        if source == text:
            return source
    raise InvalidInputError(f"unknown source {text!r}", hint="use human, model or lf")


def natural_key(text: str) -> tuple[int, float | str]:
    """Sort key of class names: numbers by value first, then other names alphabetically."""
    try:
        return (0, float(text))
    except ValueError:
        return (1, text)
