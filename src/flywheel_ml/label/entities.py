"""The label document, annotations with provenance, queues with their tasks, labelling functions.

Labels are JSON values: a class (``"cat"`` or ``3``), a list of classes (multi-label), or an
object (spans, boxes). Agreement and aggregation use class labels; every kind is stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

Source = Literal["human", "model", "lf"]
"""Who gave a label: a person, a model (pre-label or import), or a labelling function."""
SOURCES: tuple[Source, ...] = ("human", "model", "lf")
TaskStatus = Literal["open", "done", "skipped"]
Strategy = Literal["random", "uncertainty", "margin", "entropy", "diversity", "suspects", "manual"]
STRATEGIES: tuple[Strategy, ...] = (
    "random",
    "uncertainty",
    "margin",
    "entropy",
    "diversity",
    "suspects",
    "manual",
)


@dataclass(frozen=True, slots=True)
class GuideClass:
    """One class of the label document: its definition and example item ids."""

    name: str
    definition: str = ""
    positive: tuple[str, ...] = ()
    """Item ids that are clearly this class."""
    negative: tuple[str, ...] = ()
    """Item ids that look like this class but are not."""


@dataclass(frozen=True, slots=True)
class Guide:
    """One version of the label document (the annotation guidelines).

    Attributes:
        version: 1, 2, ... (every edit is a new version; annotations name the one they used).
        kind: ``class`` (one class per item), ``multi`` (a list of classes) or ``span``
            (JSON objects such as spans or boxes).
        hard_cases: how to decide the cases annotators found hard.
    """

    version: int
    classes: tuple[GuideClass, ...]
    kind: str = "class"
    hard_cases: tuple[str, ...] = ()
    notes: str = ""
    author: str = ""
    created_at: datetime | None = None

    @property
    def class_names(self) -> tuple[str, ...]:
        """The class names, in document order."""
        return tuple(c.name for c in self.classes)


@dataclass(frozen=True, slots=True)
class Annotation:
    """One label given to one item, with its provenance.

    Attributes:
        dataset: the dataset the item belongs to (item ids are stable across its versions).
        label: the JSON label; None for an item only flagged hard.
        source: ``human``, ``model`` or ``lf``.
        duration_s: seconds the annotator spent, when known.
        guide_version: the label document version in force (None before any guide).
        queue: the queue the annotation was made in, if any.
        provenance: free text on where the item or label came from (an import file, a
            production request id).
    """

    id: str
    dataset: str
    item: str
    label: Any
    annotator: str
    source: Source
    created_at: datetime
    duration_s: float | None = None
    guide_version: int | None = None
    hard: bool = False
    note: str = ""
    queue: str | None = None
    confidence: float | None = None
    provenance: str = ""


@dataclass(frozen=True, slots=True)
class Queue:
    """A set of items to label, chosen by a strategy and assigned to annotators."""

    name: str
    dataset: str
    version: str
    """The dataset version the items were drawn from (``digits@v2``), or ``""``."""
    strategy: str
    model: str | None
    annotators: tuple[str, ...]
    overlap: float
    created_at: datetime
    created_by: str
    description: str = ""


@dataclass(frozen=True, slots=True)
class Task:
    """One item of a queue for one annotator, with the model's pre-label when there is one.

    Attributes:
        position: the order of the queue (most informative first).
        score: the strategy's score (uncertainty, margin, ...), higher first.
        data: the item's content when it is not in the dataset (e.g. a production request).
    """

    queue: str
    item: str
    annotator: str
    position: int
    status: TaskStatus = "open"
    score: float | None = None
    prelabel: Any = None
    confidence: float | None = None
    provenance: str = ""
    data: Mapping[str, Any] | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class QueueItem:
    """An item to put into a queue with :meth:`LabelStage.enqueue`.

    Attributes:
        item: the item id (an id of the dataset, or a new one such as a request id).
        data: the item's features when it is not in the dataset (kept with the task and
            added as a row by ``label apply``).
        prelabel: the model's label, shown to the annotator.
        confidence: the model's confidence in ``prelabel``.
        provenance: where the item came from, e.g. ``"from production, request id r-17"``.
    """

    item: str
    data: Mapping[str, Any] | None = None
    prelabel: Any = None
    confidence: float | None = None
    provenance: str = ""
    score: float | None = None


@dataclass(frozen=True, slots=True)
class LabelFunction:
    """A labelling function: ``module:function`` taking a DataFrame of items, returning one
    label (or None to abstain) per row."""

    name: str
    target: str
    created_at: datetime
    created_by: str
    description: str = ""


@dataclass(frozen=True, slots=True)
class LabelRecord:
    """A recorded result (agreement, aggregation, suspects) as JSON data."""

    id: str
    kind: str
    dataset: str
    record: Mapping[str, Any]
    actor: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Progress:
    """How far a queue has come for one annotator."""

    annotator: str
    open: int
    done: int
    skipped: int
    extra: Mapping[str, Any] = field(default_factory=dict)
