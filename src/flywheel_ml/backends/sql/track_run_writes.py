"""Starting and ending a run through the driver, in the transaction of :meth:`Database.write`.

Creating a run is on the path of every training script and of every search trial, and
SQLAlchemy's statement layer (building ``insert().values(...)``, cache keys, result wrapping)
cost ~2 ms of CPU per run, more than the two durable commits themselves. These writers use fixed
SQL strings with the driver's ``execute``/``executemany``. Values are still converted by the
column types' own bind processors (the dialect's datetime and JSON formats), so what they write
reads back through the SQLAlchemy queries exactly like rows written the ordinary way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Dialect

from flywheel_ml.backends.sql.tables import workspace_events
from flywheel_ml.backends.sql.track_rows import lineage_to_json
from flywheel_ml.backends.sql.track_tables import track_artifacts, track_runs
from flywheel_ml.core.identity import current_actor
from flywheel_ml.core.ids import new_id
from flywheel_ml.track.entities import NewRun

_INSERT_RUN = (
    "INSERT INTO track_runs (id, name, status, lineage, created_by, host, process, started_at, "
    "heartbeat_at) VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?)"
)
_INSERT_PARAM = "INSERT INTO track_params (run_id, key, value, num) VALUES (?, ?, ?, ?)"
_INSERT_TAG = "INSERT INTO track_tags (run_id, key, value) VALUES (?, ?, ?)"
_INSERT_DATASET = "INSERT INTO track_datasets (run_id, ref, name) VALUES (?, ?, ?)"
_INSERT_ARTIFACT = (
    "INSERT INTO track_artifacts (run_id, name, kind, digest, size, meta, created_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_EVENT = (
    "INSERT INTO workspace_events (id, stage, kind, subject, detail, actor, at) "
    "VALUES (?, 'track', ?, ?, ?, ?, ?)"
)
_END_RUN = (
    "UPDATE track_runs SET status = ?, ended_at = ?, heartbeat_at = ? "
    "WHERE id = ? AND status = 'running' RETURNING name"
)

Processor = Callable[[Any], Any]


def _processor(column: sa.Column[Any], dialect: Dialect) -> Processor:
    process = column.type.dialect_impl(dialect).bind_processor(dialect)
    return process if process is not None else (lambda value: value)


class RunWrites:
    """Run start and run end as driver statements for one dialect (SQLite or PostgreSQL)."""

    def __init__(self, dialect: Dialect) -> None:
        self._pg = dialect.name != "sqlite"
        self._time = _processor(track_runs.c.started_at, dialect)
        self._lineage = _processor(track_runs.c.lineage, dialect)
        self._meta = _processor(track_artifacts.c.meta, dialect)
        self._detail = _processor(workspace_events.c.detail, dialect)

    def _sql(self, text: str) -> str:
        return text.replace("?", "%s") if self._pg else text

    def create(self, conn: Connection, run: NewRun) -> None:
        """Insert ``run`` (status running) with its params, tags, datasets, artifacts and the
        ``run.started`` event."""
        time = self._time
        started = time(run.started_at)
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(
                self._sql(_INSERT_RUN),
                (
                    run.id,
                    run.name,
                    self._lineage(lineage_to_json(run.lineage)),
                    run.created_by,
                    run.host,
                    run.process,
                    started,
                    started,
                ),
            )
            params: Mapping[str, tuple[str, float | None]] = run.params  # type: ignore[assignment]
            if params:
                cursor.executemany(
                    self._sql(_INSERT_PARAM),
                    [(run.id, key, text, num) for key, (text, num) in params.items()],
                )
            if run.tags:
                cursor.executemany(
                    self._sql(_INSERT_TAG), [(run.id, k, v) for k, v in run.tags.items()]
                )
            datasets = dict(run.datasets)
            if datasets:
                cursor.executemany(
                    self._sql(_INSERT_DATASET), [(run.id, ref, n) for ref, n in datasets.items()]
                )
            if run.artifacts:
                cursor.executemany(
                    self._sql(_INSERT_ARTIFACT),
                    [
                        (
                            run.id,
                            a.name,
                            a.kind,
                            a.digest,
                            a.size,
                            self._meta(dict(a.meta)),
                            time(a.created_at),
                        )
                        for a in run.artifacts
                    ],
                )
            self._event(
                cursor,
                "run.started",
                f"{run.name} ({run.id[-8:]})",
                run.id,
                started,
                run.created_by,
            )
        finally:
            cursor.close()

    def end(self, conn: Connection, run_id: str, *, status: str, at: datetime) -> bool:
        """Set a running run's end (and the ``run.<status>`` event); False when it was not
        running."""
        when = self._time(at)
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(self._sql(_END_RUN), (status, when, when, run_id))
            row = cursor.fetchone()
            if row is None:
                return False
            self._event(cursor, f"run.{status}", f"{row[0]} ({run_id[-8:]})", run_id, when, None)
            return True
        finally:
            cursor.close()

    def _event(
        self,
        cursor: Any,
        kind: str,
        subject: str,
        run_id: str,
        when: Any,
        actor: str | None,
    ) -> None:
        cursor.execute(
            self._sql(_INSERT_EVENT),
            (
                new_id(),
                kind,
                subject[:300],
                self._detail({"run": run_id}),
                actor or current_actor(),
                when,
            ),
        )
