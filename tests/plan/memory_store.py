"""An in-memory :class:`flywheel_ml.plan.PlanStore`: stage rules tested without a database."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime

from flywheel_ml.plan.entities import PageRevision, ProjectPage


class MemoryPlanStore:
    """Keeps revisions in a list; follows the PlanStore contract."""

    def __init__(self) -> None:
        self.revisions: list[PageRevision] = []

    def latest_page(self) -> ProjectPage | None:
        return self.revisions[-1].page if self.revisions else None

    def update_page(
        self,
        change: Callable[[ProjectPage], tuple[ProjectPage, str]],
        *,
        actor: str,
        at: datetime,
    ) -> ProjectPage:
        current = self.latest_page() or ProjectPage()
        page, summary = change(current)
        saved = dataclasses.replace(
            page, revision=current.revision + 1, updated_at=at, updated_by=actor
        )
        self.revisions.append(
            PageRevision(
                revision=saved.revision,
                page=saved,
                summary=summary,
                changed_at=at,
                changed_by=actor,
            )
        )
        return saved

    def list_revisions(self) -> list[PageRevision]:
        return list(self.revisions)
