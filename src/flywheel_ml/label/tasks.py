"""Queues of tasks: choosing items by a strategy, assigning them to annotators, serving the
next task with its content, and recording answers, skips and hard-to-label tags."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from flywheel_ml.core.clock import utc_now
from flywheel_ml.core.identity import current_actor
from flywheel_ml.data.versions import check_name
from flywheel_ml.errors import ConflictError, InvalidInputError, NotFoundError
from flywheel_ml.label.annotating import (
    ANYONE,
    LABEL_CONFIDENCE_COLUMN,
    LABEL_SOURCE_COLUMN,
    Annotating,
)
from flywheel_ml.label.annotations import RawAnnotation, class_key
from flywheel_ml.label.entities import (
    STRATEGIES,
    Annotation,
    Guide,
    Progress,
    Queue,
    QueueItem,
    Task,
)
from flywheel_ml.label.queues import MODEL_STRATEGIES, assign, k_center, uncertainty_scores

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp")
"""Files of a folder dataset the annotation page shows as an image."""
TEXT_SUFFIXES = (".txt", ".md", ".csv", ".tsv", ".json")
"""Files of a folder dataset the annotation page shows as text."""


@dataclass(frozen=True, slots=True)
class TaskView:
    """A task with what the annotation page shows: the item's content and the guide."""

    task: Task
    content: Mapping[str, Any]
    guide: Guide | None
    remaining: int
    kind: str = "table"
    extra: Mapping[str, Any] = field(default_factory=dict)


class Tasks(Annotating):
    """Queues and their tasks (see :class:`Annotating` for the arguments)."""

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
        """The item's columns (no label) and its kind: ``table``, ``text`` or ``image``.

        A file of a folder dataset is an ``image`` or ``text`` by its suffix (its bytes are
        shown, not its columns); when the folder names the labels, its path is left out too.
        """
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
        if "object" in row:
            path = str(row.get("path", "")).lower()
            if label is not None:
                row.pop("path", None)  # cat/1.jpg would tell the annotator the label
            if path.endswith(IMAGE_SUFFIXES):
                return row, "image"
            return row, "text" if path.endswith(TEXT_SUFFIXES) else "table"
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


def _fields(annotation: Annotation) -> dict[str, Any]:
    return {name: getattr(annotation, name) for name in Annotation.__slots__}
