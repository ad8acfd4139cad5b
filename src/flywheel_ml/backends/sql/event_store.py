"""The activity log on SQL: :class:`flywheel_ml.core.events.EventLog`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from flywheel_ml.backends.sql.database import Database
from flywheel_ml.backends.sql.tables import workspace_events
from flywheel_ml.backends.sql.timestamps import required
from flywheel_ml.core.events import Event, new_event


class SqlEventLog:
    """Appends events in their own short write transaction."""

    def __init__(self, database: Database) -> None:
        self._db = database

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
        event = new_event(stage=stage, kind=kind, subject=subject, detail=detail, actor=actor)
        self._db.write(
            lambda conn: conn.execute(
                workspace_events.insert().values(
                    id=event.id,
                    stage=event.stage,
                    kind=event.kind,
                    subject=event.subject,
                    detail=dict(event.detail),
                    actor=event.actor,
                    at=event.at,
                )
            )
        )
        return event

    def recent(self, *, limit: int = 20, stage: str | None = None) -> list[Event]:
        """The newest events first."""
        query = (
            sa.select(workspace_events)
            .order_by(workspace_events.c.at.desc(), workspace_events.c.id.desc())
            .limit(limit)
        )
        if stage is not None:
            query = query.where(workspace_events.c.stage == stage)
        with self._db.read() as conn:
            rows = conn.execute(query).mappings().all()
        return [
            Event(
                id=r["id"],
                stage=r["stage"],
                kind=r["kind"],
                subject=r["subject"],
                actor=r["actor"],
                at=required(r["at"]),
                detail=r["detail"],
            )
            for r in rows
        ]
