"""The activity log: one line per write anywhere in the workspace (who, when, what)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from flywheel_ml.core.clock import utc_now
from flywheel_ml.core.identity import current_actor
from flywheel_ml.core.ids import new_id


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


def new_event(
    *,
    stage: str,
    kind: str,
    subject: str,
    detail: Mapping[str, Any] | None = None,
    actor: str | None = None,
) -> Event:
    """The event an :meth:`EventLog.record` appends: a new id, now, the current actor unless
    one is given, and the subject cut to its stored width (300 characters)."""
    return Event(
        id=new_id(),
        stage=stage,
        kind=kind,
        subject=subject[:300],
        actor=actor or current_actor(),
        at=utc_now(),
        detail=dict(detail or {}),
    )


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
