"""The label stage's store: guide versions, annotations, queues and tasks, functions, records."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from flywheel_ml.backends.sql.database import Database
from flywheel_ml.backends.sql.label_tables import (
    label_annotations,
    label_functions,
    label_guides,
    label_queues,
    label_records,
    label_tasks,
)
from flywheel_ml.backends.sql.timestamps import aware, required
from flywheel_ml.core.clock import as_utc
from flywheel_ml.errors import ConflictError, NotFoundError
from flywheel_ml.label.entities import (
    Annotation,
    Guide,
    LabelFunction,
    LabelRecord,
    Queue,
    Task,
    TaskStatus,
)
from flywheel_ml.label.guide import guide_from_json, guide_json

_LOCK_KEY = 0x4C41424C  # "LABL": serialises guide version numbers on PostgreSQL
_CHUNK = 5000


class SqlLabelStore:
    """:class:`flywheel_ml.label.LabelStore` on SQLite or PostgreSQL."""

    def __init__(self, database: Database) -> None:
        self._db = database

    # -- guides ------------------------------------------------------------------------------

    def add_guide(self, make: Callable[[int], Guide]) -> Guide:
        """Store ``make(next version number)`` in one transaction and return it."""

        def work(conn: Connection) -> Guide:
            if not self._db.is_sqlite:
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
            highest = conn.execute(sa.select(sa.func.max(label_guides.c.version))).scalar()
            guide = make(int(highest or 0) + 1)
            body = guide_json(guide)
            body.pop("created_at", None)
            conn.execute(
                label_guides.insert().values(
                    version=guide.version,
                    body=body,
                    author=guide.author,
                    created_at=as_utc(guide.created_at) if guide.created_at else None,
                )
            )
            return guide

        return self._db.write(work)

    def list_guides(self) -> list[Guide]:
        """Every guide version, oldest first."""
        with self._db.read() as conn:
            rows = conn.execute(sa.select(label_guides).order_by(label_guides.c.version))
            return [_guide(r) for r in rows.mappings()]

    # -- annotations -------------------------------------------------------------------------

    def add_annotations(self, annotations: Sequence[Annotation]) -> None:
        """Store annotations, all or none (one transaction)."""
        rows = [_annotation_row(a) for a in annotations]
        if not rows:
            return

        def work(conn: Connection) -> None:
            for start in range(0, len(rows), _CHUNK):
                conn.execute(label_annotations.insert(), rows[start : start + _CHUNK])

        self._db.write(work)

    def list_annotations(
        self,
        *,
        dataset: str | None = None,
        queue: str | None = None,
        hard: bool | None = None,
    ) -> list[Annotation]:
        """Annotations (of one dataset, queue; only hard ones), oldest first."""
        query = sa.select(label_annotations).order_by(label_annotations.c.id)
        if dataset is not None:
            query = query.where(label_annotations.c.dataset == dataset)
        if queue is not None:
            query = query.where(label_annotations.c.queue == queue)
        if hard is not None:
            query = query.where(label_annotations.c.hard == hard)
        with self._db.read() as conn:
            return [_annotation(r) for r in conn.execute(query).mappings()]

    # -- queues ------------------------------------------------------------------------------

    def create_queue(self, queue: Queue, tasks: Sequence[Task]) -> None:
        """Store a queue with its tasks in one transaction."""

        def work(conn: Connection) -> None:
            exists = conn.execute(
                sa.select(label_queues.c.name).where(label_queues.c.name == queue.name)
            ).first()
            if exists is not None:
                raise ConflictError(f"queue {queue.name!r} exists", hint="choose another name")
            conn.execute(
                label_queues.insert().values(
                    name=queue.name,
                    dataset=queue.dataset,
                    version=queue.version,
                    strategy=queue.strategy,
                    model=queue.model,
                    annotators=list(queue.annotators),
                    overlap=queue.overlap,
                    description=queue.description,
                    created_at=as_utc(queue.created_at),
                    created_by=queue.created_by,
                )
            )
            _insert_tasks(conn, tasks)

        self._db.write(work)

    def add_tasks(self, queue: str, tasks: Sequence[Task]) -> int:
        """Append tasks (skipping item/annotator pairs the queue has); how many were added."""

        def work(conn: Connection) -> int:
            have = {
                (r.item, r.annotator)
                for r in conn.execute(
                    sa.select(label_tasks.c.item, label_tasks.c.annotator).where(
                        label_tasks.c.queue == queue
                    )
                )
            }
            top = conn.execute(
                sa.select(sa.func.max(label_tasks.c.position)).where(label_tasks.c.queue == queue)
            ).scalar()
            base = int(top if top is not None else -1) + 1
            fresh = [t for t in tasks if (t.item, t.annotator) not in have]
            renumbered = [_with_position(t, base + t.position) for t in fresh]
            _insert_tasks(conn, renumbered)
            return len(renumbered)

        return self._db.write(work)

    def get_queue(self, name: str) -> Queue | None:
        """The queue, or None."""
        with self._db.read() as conn:
            row = (
                conn.execute(sa.select(label_queues).where(label_queues.c.name == name))
                .mappings()
                .first()
            )
        return None if row is None else _queue(row)

    def list_queues(self) -> list[Queue]:
        """Every queue, oldest first."""
        with self._db.read() as conn:
            rows = conn.execute(
                sa.select(label_queues).order_by(label_queues.c.created_at, label_queues.c.name)
            )
            return [_queue(r) for r in rows.mappings()]

    def list_tasks(
        self,
        queue: str,
        *,
        annotator: str | None = None,
        status: TaskStatus | None = None,
        limit: int | None = None,
    ) -> list[Task]:
        """Tasks of a queue in queue order (position, then annotator)."""
        query = (
            sa.select(label_tasks)
            .where(label_tasks.c.queue == queue)
            .order_by(label_tasks.c.position, label_tasks.c.annotator)
        )
        if annotator is not None:
            query = query.where(label_tasks.c.annotator == annotator)
        if status is not None:
            query = query.where(label_tasks.c.status == status)
        if limit is not None:
            query = query.limit(limit)
        with self._db.read() as conn:
            return [_task(r) for r in conn.execute(query).mappings()]

    def finish_task(
        self,
        queue: str,
        item: str,
        annotator: str,
        *,
        status: TaskStatus,
        at: datetime,
        annotation: Annotation | None = None,
    ) -> None:
        """Set a task's status and store ``annotation`` with it, in one transaction."""

        def work(conn: Connection) -> None:
            done = conn.execute(
                label_tasks.update()
                .where(
                    label_tasks.c.queue == queue,
                    label_tasks.c.item == item,
                    label_tasks.c.annotator == annotator,
                )
                .values(status=status, updated_at=as_utc(at))
            )
            if done.rowcount != 1:
                raise NotFoundError(
                    f"queue {queue!r} has no task {item!r} for {annotator}",
                    hint="ask for the next task again",
                )
            if annotation is not None:
                conn.execute(label_annotations.insert().values(**_annotation_row(annotation)))

        self._db.write(work)

    # -- functions and records ---------------------------------------------------------------

    def put_function(self, function: LabelFunction) -> None:
        """Create or replace a labelling function."""

        def work(conn: Connection) -> None:
            conn.execute(label_functions.delete().where(label_functions.c.name == function.name))
            conn.execute(
                label_functions.insert().values(
                    name=function.name,
                    target=function.target,
                    description=function.description,
                    created_at=as_utc(function.created_at),
                    created_by=function.created_by,
                )
            )

        self._db.write(work)

    def list_functions(self) -> list[LabelFunction]:
        """Labelling functions by name."""
        with self._db.read() as conn:
            rows = conn.execute(sa.select(label_functions).order_by(label_functions.c.name))
            return [
                LabelFunction(
                    r["name"],
                    r["target"],
                    required(r["created_at"]),
                    r["created_by"],
                    r["description"],
                )
                for r in rows.mappings()
            ]

    def delete_function(self, name: str) -> bool:
        """Remove a labelling function; whether it existed."""
        result = self._db.write(
            lambda conn: conn.execute(
                label_functions.delete().where(label_functions.c.name == name)
            )
        )
        return bool(result.rowcount)

    def add_record(self, record: LabelRecord) -> None:
        """Keep a result (agreement, aggregation, suspects)."""
        self._db.write(
            lambda conn: conn.execute(
                label_records.insert().values(
                    id=record.id,
                    kind=record.kind,
                    dataset=record.dataset,
                    record=dict(record.record),
                    actor=record.actor,
                    at=as_utc(record.at),
                )
            )
        )

    def latest_record(self, kind: str, *, dataset: str | None = None) -> LabelRecord | None:
        """The newest record of ``kind`` (for one dataset), or None."""
        query = (
            sa.select(label_records)
            .where(label_records.c.kind == kind)
            .order_by(label_records.c.id.desc())
            .limit(1)
        )
        if dataset is not None:
            query = query.where(label_records.c.dataset == dataset)
        with self._db.read() as conn:
            r = conn.execute(query).mappings().first()
        if r is None:
            return None
        return LabelRecord(
            r["id"], r["kind"], r["dataset"], r["record"], r["actor"], required(r["at"])
        )


def _insert_tasks(conn: Connection, tasks: Sequence[Task]) -> None:
    rows = [
        {
            "queue": t.queue,
            "item": t.item,
            "annotator": t.annotator,
            "position": t.position,
            "status": t.status,
            "score": t.score,
            "prelabel": t.prelabel,
            "confidence": t.confidence,
            "provenance": t.provenance,
            "data": None if t.data is None else dict(t.data),
            "updated_at": None if t.updated_at is None else as_utc(t.updated_at),
        }
        for t in tasks
    ]
    for start in range(0, len(rows), _CHUNK):
        conn.execute(label_tasks.insert(), rows[start : start + _CHUNK])


def _with_position(task: Task, position: int) -> Task:
    return Task(
        task.queue,
        task.item,
        task.annotator,
        position,
        task.status,
        task.score,
        task.prelabel,
        task.confidence,
        task.provenance,
        task.data,
        task.updated_at,
    )


def _annotation_row(a: Annotation) -> dict[str, Any]:
    return {
        "id": a.id,
        "dataset": a.dataset,
        "item": a.item,
        "label": a.label,
        "annotator": a.annotator,
        "source": a.source,
        "created_at": as_utc(a.created_at),
        "duration_s": a.duration_s,
        "guide_version": a.guide_version,
        "hard": a.hard,
        "note": a.note,
        "queue": a.queue,
        "confidence": a.confidence,
        "provenance": a.provenance,
    }


def _annotation(r: RowMapping) -> Annotation:
    return Annotation(
        id=r["id"],
        dataset=r["dataset"],
        item=r["item"],
        label=r["label"],
        annotator=r["annotator"],
        source=r["source"],
        created_at=required(r["created_at"]),
        duration_s=r["duration_s"],
        guide_version=r["guide_version"],
        hard=bool(r["hard"]),
        note=r["note"],
        queue=r["queue"],
        confidence=r["confidence"],
        provenance=r["provenance"],
    )


def _guide(r: RowMapping) -> Guide:
    body = r["body"]
    return Guide(
        version=int(r["version"]),
        classes=guide_from_json(body),
        kind=str(body.get("kind", "class")),
        hard_cases=tuple(body.get("hard_cases", ())),
        notes=str(body.get("notes", "")),
        author=r["author"],
        created_at=required(r["created_at"]),
    )


def _queue(r: RowMapping) -> Queue:
    return Queue(
        r["name"],
        r["dataset"],
        r["version"],
        r["strategy"],
        r["model"],
        tuple(r["annotators"]),
        float(r["overlap"]),
        required(r["created_at"]),
        r["created_by"],
        r["description"],
    )


def _task(r: RowMapping) -> Task:
    return Task(
        r["queue"],
        r["item"],
        r["annotator"],
        int(r["position"]),
        r["status"],
        r["score"],
        r["prelabel"],
        r["confidence"],
        r["provenance"],
        r["data"],
        aware(r["updated_at"]),
    )
