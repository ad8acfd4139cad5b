"""``flywheel status``: the nine lifecycle stages with each deliverable's evidence."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flywheel_ml.core.lifecycle import STAGES, Deliverable, StageName, StageStatus

EvidenceSource = Callable[[], tuple[Deliverable, ...]]


def collect_status(sources: Mapping[StageName, EvidenceSource]) -> tuple[StageStatus, ...]:
    """One :class:`StageStatus` per lifecycle stage, in lifecycle order.

    A stage without a source is one this version of Flywheel does not build yet; it is listed
    with its deliverable marked as not available rather than with a command that does not exist.
    """
    statuses = []
    for stage, question, deliverable in STAGES:
        source = sources.get(stage)
        if source is None:
            items: tuple[Deliverable, ...] = (
                Deliverable(deliverable, False, next_step="not available in this Flywheel version"),
            )
        else:
            items = source()
        statuses.append(StageStatus(stage=stage, question=question, deliverables=items))
    return tuple(statuses)


def status_to_json(statuses: tuple[StageStatus, ...]) -> list[dict[str, Any]]:
    """The status as JSON-ready data (the ``--json`` and ``/api/v1/status`` form)."""
    return [
        {
            "stage": s.stage,
            "question": s.question,
            "done": s.done,
            "deliverables": [
                {"name": d.name, "done": d.done, "evidence": d.evidence, "next_step": d.next_step}
                for d in s.deliverables
            ],
        }
        for s in statuses
    ]
