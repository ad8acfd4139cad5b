"""Starting and ending a run through the driver, in the transaction of :meth:`Database.write`.

Creating a run is on the path of every training script and of every search trial, and
SQLAlchemy's statement layer (building ``insert().values(...)``, cache keys, result wrapping)
cost ~2 ms of CPU per run, more than the two durable commits themselves. These writers use fixed
SQL strings with the driver's ``execute``/``executemany``. Values are still converted by the
column types' own bind processors (the dialect's datetime and JSON formats), so what they write
reads back through the SQLAlchemy queries exactly like rows written the ordinary way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Dialect

from flywheel_ml.backends.sql.tables import workspace_events
from flywheel_ml.backends.sql.track_rows import lineage_to_json
from flywheel_ml.backends.sql.track_tables import track_artifacts, track_runs
from flywheel_ml.core.identity import current_actor
from flywheel_ml.core.ids import new_id
from flywheel_ml.track.entities import Lineage, NewRun

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

# PostgreSQL: the end and its event in one statement (one round trip, no name to fetch first).
_END_RUN_PG = (
    "WITH ended AS (UPDATE track_runs SET status = %s, ended_at = %s, heartbeat_at = %s "
    "WHERE id = %s AND status = 'running' RETURNING name) "
    "INSERT INTO workspace_events (id, stage, kind, subject, detail, actor, at) "
    "SELECT %s, 'track', %s, substr(name || %s, 1, 300), %s, %s, %s FROM ended RETURNING id"
)

Processor = Callable[[Any], Any]
_LINEAGES_KEPT = 64


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
        # Runs of one process share their lineage but for seed and command: its bound JSON
        # is built once per distinct lineage, not per run.
        self._lineages: dict[Lineage, Any] = {}

    def _lineage_value(self, lineage: Lineage) -> Any:
        value = self._lineages.get(lineage)
        if value is None:
            if len(self._lineages) >= _LINEAGES_KEPT:
                self._lineages.clear()
            value = self._lineages[lineage] = self._lineage(lineage_to_json(lineage))
        return value

    def _sql(self, text: str) -> str:
        return text.replace("?", "%s") if self._pg else text

    @contextmanager
    def pipelined(self, conn: Connection) -> Iterator[None]:
        """On PostgreSQL, send the driver statements made inside in as few round trips as
        their results allow (a psycopg pipeline); on SQLite, nothing to do."""
        if not self._pg:
            yield
            return
        with conn.connection.dbapi_connection.pipeline():  # type: ignore[union-attr]
            yield

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
                    self._lineage_value(run.lineage),
                    run.created_by,
                    run.host,
                    run.process,
                    started,
                    started,
                ),
            )
            params: Mapping[str, tuple[str, float | None]] = run.params
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
                            started if a.created_at == run.started_at else time(a.created_at),
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
            if self._pg:
                detail = self._detail({"run": run_id})
                suffix = f" ({run_id[-8:]})"
                values = (status, when, when, run_id, new_id(), f"run.{status}", suffix, detail)
                cursor.execute(_END_RUN_PG, (*values, current_actor(), when))
                return cursor.fetchone() is not None
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
