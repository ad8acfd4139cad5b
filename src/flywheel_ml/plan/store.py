"""What the plan stage needs from a backend."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from flywheel_ml.plan.entities import PageRevision, ProjectPage


class PlanStore(Protocol):
    """Keeps every revision of the project page."""

    def latest_page(self) -> ProjectPage | None:
        """The newest revision of the page, or None when it was never saved."""
        ...

    def update_page(
        self,
        change: Callable[[ProjectPage], tuple[ProjectPage, str]],
        *,
        actor: str,
        at: datetime,
    ) -> ProjectPage:
        """Apply ``change`` to the newest page atomically and save the result as a new revision.

        ``change`` gets the newest page (an empty page when none) and returns the new page and a
        one-line summary of what changed. The store calls it inside its write transaction, so
        concurrent updates never overwrite each other; it may call it more than once on retry.
        The saved page has ``revision`` one above the previous one.
        """
        ...

    def list_revisions(self) -> list[PageRevision]:
        """Every revision, oldest first."""
        ...
