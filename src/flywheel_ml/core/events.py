"""The activity log: one line per write anywhere in the workspace (who, when, what)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Event:
    """Something a stage did, e.g. stage ``data``, kind ``version.created``, subject ``d@v2``."""

    id: str
    stage: str
    kind: str
    subject: str
    actor: str
    at: datetime
    detail: Mapping[str, Any] = field(default_factory=dict)


class EventLog(Protocol):
    """Where stages record their writes for the activity feed and audits."""

    def record(
        self,
        *,
        stage: str,
        kind: str,
        subject: str,
        detail: Mapping[str, Any] | None = None,
        actor: str | None = None,
    ) -> Event:
        """Append an event and return it."""
        ...

    def recent(self, *, limit: int = 20, stage: str | None = None) -> list[Event]:
        """The newest events first."""
        ...
