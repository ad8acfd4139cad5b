"""What the label stage needs from a backend."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol

from flywheel_ml.label.entities import (
    Annotation,
    Guide,
    LabelFunction,
    LabelRecord,
    Queue,
    Task,
    TaskStatus,
)


class LabelStore(Protocol):
    """Keeps guide versions, annotations, queues with tasks, labelling functions and records."""

    def add_guide(self, make: Callable[[int], Guide]) -> Guide:
        """Store ``make(next version number)`` in one transaction and return it."""
        ...

    def list_guides(self) -> list[Guide]:
        """Every guide version, oldest first."""
        ...

    def add_annotations(self, annotations: Sequence[Annotation]) -> None:
        """Store annotations, all or none (one transaction)."""
        ...

    def list_annotations(
        self,
        *,
        dataset: str | None = None,
        queue: str | None = None,
        hard: bool | None = None,
    ) -> list[Annotation]:
        """Annotations (of one dataset, queue; only hard ones), oldest first."""
        ...

    def create_queue(self, queue: Queue, tasks: Sequence[Task]) -> None:
        """Store a queue with its tasks in one transaction.

        Raises:
            ConflictError: a queue of that name exists.
        """
        ...

    def add_tasks(self, queue: str, tasks: Sequence[Task]) -> int:
        """Append tasks to an existing queue (skipping item/annotator pairs it has); how many
        were added."""
        ...

    def get_queue(self, name: str) -> Queue | None:
        """The queue, or None."""
        ...

    def list_queues(self) -> list[Queue]:
        """Every queue, oldest first."""
        ...

    def list_tasks(
        self,
        queue: str,
        *,
        annotator: str | None = None,
        status: TaskStatus | None = None,
        limit: int | None = None,
    ) -> list[Task]:
        """Tasks of a queue in queue order (position, then annotator)."""
        ...

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
        """Set a task's status and store ``annotation`` with it, in one transaction.

        Raises:
            NotFoundError: the queue has no such task.
        """
        ...

    def put_function(self, function: LabelFunction) -> None:
        """Create or replace a labelling function."""
        ...

    def list_functions(self) -> list[LabelFunction]:
        """Labelling functions by name."""
        ...

    def delete_function(self, name: str) -> bool:
        """Remove a labelling function; whether it existed."""
        ...

    def add_record(self, record: LabelRecord) -> None:
        """Keep a result (agreement, aggregation, suspects)."""
        ...

    def latest_record(self, kind: str, *, dataset: str | None = None) -> LabelRecord | None:
        """The newest record of ``kind`` (for one dataset), or None."""
        ...
