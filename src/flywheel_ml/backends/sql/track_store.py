"""The track stage's store on SQLite and PostgreSQL (tables in ``track_tables``).

Metric batches bypass SQLAlchemy's statement layer: a batch becomes one columnar block row per
series (see ``metric_blocks``) plus one update (or, for a new series, one insert) of the
per-series aggregates, written with the driver's ``executemany`` in the transaction of
:meth:`Database.write`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from flywheel_ml.backends.sql.database import Database
from flywheel_ml.backends.sql.metric_blocks import SeriesRows, decode_blocks, series_rows
from flywheel_ml.backends.sql.timestamps import required
from flywheel_ml.backends.sql.track_query import run_filter, run_order
from flywheel_ml.backends.sql.track_ranking import change_counter, metric_values, runs_by_id
from flywheel_ml.backends.sql.track_rows import (
    build_runs,
    event,
    put_artifact,
    put_datasets,
    put_params,
    put_tags,
)
from flywheel_ml.backends.sql.track_run_writes import RunWrites
from flywheel_ml.backends.sql.track_tables import track_artifacts, track_runs
from flywheel_ml.core.digests import Digest
from flywheel_ml.errors import NotFoundError
from flywheel_ml.track.buffer import Batch
from flywheel_ml.track.entities import Artifact, LiveRun, MetricSeries, NewRun, Run
from flywheel_ml.track.query import RunQuery

_UPDATE_SERIES = (
    "UPDATE track_series SET count = count + ?, "
    "min_value = CASE WHEN min_value IS NULL OR ? < min_value THEN ? ELSE min_value END, "
    "max_value = CASE WHEN max_value IS NULL OR ? > max_value THEN ? ELSE max_value END, "
    "last_value = CASE WHEN last_step IS NULL OR ? >= last_step THEN ? ELSE last_value END, "
    "last_step = CASE WHEN last_step IS NULL OR ? >= last_step THEN ? ELSE last_step END, "
    "updated_at = ? WHERE id = ?"
)
_INSERT_BLOCK = (
    "INSERT INTO track_blocks (series_id, first_step, count, steps, vals, times) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)
# A series seen for the first time is inserted with its aggregates; when another process
# created it meanwhile, the same statement merges them (what _UPDATE_SERIES does by id).
_UPSERT_SERIES = (
    "INSERT INTO track_series (run_id, key, count, min_value, max_value, last_value, last_step, "
    "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, key) DO UPDATE SET "
    "count = track_series.count + excluded.count, "
    "min_value = CASE WHEN track_series.min_value IS NULL "
    "OR excluded.min_value < track_series.min_value "
    "THEN excluded.min_value ELSE track_series.min_value END, "
    "max_value = CASE WHEN track_series.max_value IS NULL "
    "OR excluded.max_value > track_series.max_value "
    "THEN excluded.max_value ELSE track_series.max_value END, "
    "last_value = CASE WHEN track_series.last_step IS NULL "
    "OR excluded.last_step >= track_series.last_step "
    "THEN excluded.last_value ELSE track_series.last_value END, "
    "last_step = CASE WHEN track_series.last_step IS NULL "
    "OR excluded.last_step >= track_series.last_step "
    "THEN excluded.last_step ELSE track_series.last_step END, "
    "updated_at = excluded.updated_at"
)


class SqlTrackStore:
    """:class:`flywheel_ml.track.TrackStore` on SQLite or PostgreSQL."""

    def __init__(self, database: Database) -> None:
        self._db = database
        self._pg = not database.is_sqlite
        self._series: dict[tuple[str, str], int] = {}
        self._writes = RunWrites(database.engine.dialect)

    def _sql(self, text: str) -> str:
        return text.replace("?", "%s") if self._pg else text

    # -- runs ----------------------------------------------------------------------------------

    def create_run(self, run: NewRun) -> None:
        """Insert a run (status running) with its params, tags, datasets and artifacts."""

        def work(conn: Connection) -> None:
            with self._writes.pipelined(conn):
                self._writes.create(conn, run)

        self._db.write(work)

    def import_run(
        self, run: NewRun, *, status: str, ended_at: datetime, points: Batch | None = None
    ) -> None:
        """Write a whole ended run (from another tracker) in one transaction: its start, every
        point (with their own steps and times) and its end."""
        prepared = self._prepare(points or {})
        created: dict[tuple[str, str], int] = {}

        def work(conn: Connection) -> None:
            with self._writes.pipelined(conn):
                self._writes.create(conn, run)
                self._append(conn, prepared, created)
                self._writes.end(conn, run.id, status=status, at=ended_at)

        self._db.write(work)
        self._series.update(created)

    def update_run(
        self,
        run_id: str,
        *,
        params: Mapping[str, tuple[str, float | None]] | None = None,
        tags: Mapping[str, str] | None = None,
        datasets: Sequence[tuple[str, str]] = (),
        seed: int | None = None,
    ) -> None:
        """Merge params, tags, datasets and the seed into a run."""

        def work(conn: Connection) -> None:
            row = conn.execute(
                sa.select(track_runs.c.lineage).where(track_runs.c.id == run_id)
            ).first()
            if row is None:
                raise NotFoundError(f"no run {run_id!r}", hint="list runs: flywheel track list")
            if params:
                put_params(conn, run_id, params)
            if tags:
                put_tags(conn, run_id, tags)
            if datasets:
                put_datasets(conn, run_id, datasets)
            if seed is not None:
                lineage = {**row[0], "seed": seed}
                conn.execute(
                    track_runs.update().where(track_runs.c.id == run_id).values(lineage=lineage)
                )

        self._db.write(work)

    def finish_run(
        self, run_id: str, *, status: str, at: datetime, points: Batch | None = None
    ) -> None:
        """End a running run with ``status``, committing ``points`` in the same transaction."""
        prepared = self._prepare(points or {})
        created: dict[tuple[str, str], int] = {}

        def work(conn: Connection) -> None:
            with self._writes.pipelined(conn):
                self._append(conn, prepared, created)
                self._writes.end(conn, run_id, status=status, at=at)

        self._db.write(work)
        self._series.update(created)

    def heartbeat(self, run_ids: Sequence[str], *, at: datetime) -> None:
        """Record that these runs' process is alive."""
        self._db.write(
            lambda conn: conn.execute(
                track_runs.update()
                .where(track_runs.c.id.in_(list(run_ids)), track_runs.c.status == "running")
                .values(heartbeat_at=at)
            )
        )

    def set_deleted(self, run_id: str, *, deleted: bool, at: datetime) -> None:
        """Delete (hide) or restore a run."""

        def work(conn: Connection) -> None:
            conn.execute(
                track_runs.update()
                .where(track_runs.c.id == run_id)
                .values(deleted_at=at if deleted else None)
            )
            kind = "run.deleted" if deleted else "run.restored"
            event(conn, kind, run_id[-8:], {"run": run_id}, at)

        self._db.write(work)

    def live_runs(self) -> list[LiveRun]:
        """Every run whose status is running."""
        query = sa.select(
            track_runs.c.id, track_runs.c.host, track_runs.c.process, track_runs.c.heartbeat_at
        ).where(track_runs.c.status == "running")
        with self._db.read() as conn:
            rows = conn.execute(query).all()
        return [LiveRun(r[0], r[1], r[2], required(r[3])) for r in rows]

    def mark_crashed(self, run_ids: Sequence[str], *, at: datetime) -> None:
        """Set these still-running runs to crashed (their end time is their last heartbeat)."""

        def work(conn: Connection) -> None:
            for run_id in run_ids:
                done = conn.execute(
                    track_runs.update()
                    .where(track_runs.c.id == run_id, track_runs.c.status == "running")
                    .values(status="crashed", ended_at=track_runs.c.heartbeat_at)
                )
                if done.rowcount:
                    event(conn, "run.crashed", run_id[-8:], {"run": run_id}, at)

        self._db.write(work)

    # -- metrics -------------------------------------------------------------------------------

    def append_points(self, batch: Batch) -> None:
        """Commit every point in one transaction: one block row per series, and its aggregates."""
        prepared = self._prepare(batch)
        if not prepared:
            return
        created: dict[tuple[str, str], int] = {}
        self._db.write(lambda conn: self._append(conn, prepared, created))
        self._series.update(created)

    @staticmethod
    def _prepare(batch: Batch) -> dict[tuple[str, str], SeriesRows]:
        # Outside the transaction: packing is not repeated when the transaction is retried.
        return {key: series_rows(columns) for key, columns in batch.items() if columns[0]}

    def _append(
        self,
        conn: Connection,
        by_series: dict[tuple[str, str], SeriesRows],
        created: dict[tuple[str, str], int],
    ) -> None:
        # Runs inside a (possibly retried) transaction: new series ids reach the cache only
        # after the commit, through ``created``.
        if not by_series:
            return
        created.clear()
        cache = self._series
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            updates = []
            new: list[tuple[Any, ...]] = []
            for key, rows in by_series.items():
                count, low, high, last, top, at = rows.aggregate
                series_id = cache.get(key)
                if series_id is None:
                    new.append((key[0], key[1], count, low, high, last, top, at))
                else:
                    updates.append(
                        (count, low, low, high, high, top, last, top, top, at, series_id)
                    )
            if updates:
                cursor.executemany(self._sql(_UPDATE_SERIES), updates)
            if new:
                cursor.executemany(self._sql(_UPSERT_SERIES), new)
                self._new_series_ids(cursor, {(r[0], r[1]) for r in new}, created)
            blocks = [
                (cache.get(key) or created[key], *block)
                for key, rows in by_series.items()
                for block in rows.blocks
            ]
            cursor.executemany(self._sql(_INSERT_BLOCK), blocks)
        finally:
            cursor.close()

    def _new_series_ids(
        self, cursor: Any, wanted: set[tuple[str, str]], created: dict[tuple[str, str], int]
    ) -> None:
        for run_id in {r for r, _ in wanted}:
            cursor.execute(
                self._sql("SELECT id, key FROM track_series WHERE run_id = ?"), (run_id,)
            )
            for series_id, key in cursor.fetchall():
                if (run_id, key) in wanted:
                    created[(run_id, key)] = int(series_id)

    def metric_series(self, run_id: str, key: str) -> MetricSeries:
        """Every point of one metric in step order (ties in logging order)."""
        sql = self._sql(
            "SELECT b.steps, b.vals, b.times FROM track_blocks b WHERE b.series_id = "
            "(SELECT id FROM track_series WHERE run_id = ? AND key = ?) ORDER BY b.first_step"
        )
        with self._db.read() as conn:
            cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            try:
                cursor.execute(sql, (run_id, key))
                blocks = [(bytes(s), bytes(v), bytes(t)) for s, v, t in cursor.fetchall()]
            finally:
                cursor.close()
        steps, values, times = decode_blocks(blocks)
        return MetricSeries(run_id, key, steps, values, times)

    # -- artifacts -----------------------------------------------------------------------------

    def add_artifact(self, run_id: str, artifact: Artifact) -> None:
        """Attach an artifact (replacing one of the same name)."""

        def work(conn: Connection) -> None:
            if conn.execute(sa.select(track_runs.c.id).where(track_runs.c.id == run_id)).first():
                put_artifact(conn, run_id, artifact)
                if artifact.kind == "model":
                    detail = {"run": run_id, "digest": artifact.digest}
                    event(conn, "model.logged", run_id[-8:], detail, artifact.created_at)
                return
            raise NotFoundError(f"no run {run_id!r}", hint="list runs: flywheel track list")

        self._db.write(work)

    def list_artifacts(self, run_id: str) -> list[Artifact]:
        """The run's artifacts by name."""
        query = (
            sa.select(track_artifacts)
            .where(track_artifacts.c.run_id == run_id)
            .order_by(track_artifacts.c.name)
        )
        with self._db.read() as conn:
            rows = conn.execute(query).mappings().all()
        return [
            Artifact(
                name=r["name"],
                kind=r["kind"],
                digest=Digest(r["digest"]),
                size=int(r["size"]),
                created_at=required(r["created_at"]),
                meta=dict(r["meta"] or {}),
            )
            for r in rows
        ]

    # -- reading runs --------------------------------------------------------------------------

    def get_run(self, run_id: str) -> Run | None:
        """The run with this exact id, or None."""
        with self._db.read() as conn:
            rows = (
                conn.execute(sa.select(track_runs).where(track_runs.c.id == run_id))
                .mappings()
                .all()
            )
            runs = build_runs(conn, rows)
        return runs[0] if runs else None

    def match_ids(self, part: str, *, limit: int = 2) -> list[str]:
        """Run ids that start or end with ``part``."""
        column = track_runs.c.id
        query = (
            sa.select(column)
            .where(
                sa.or_(
                    column.startswith(part, autoescape=True), column.endswith(part, autoescape=True)
                )
            )
            .order_by(column)
            .limit(limit)
        )
        with self._db.read() as conn:
            return [r[0] for r in conn.execute(query)]

    def list_runs(self, query: RunQuery) -> list[Run]:
        """Runs matching ``query``, sorted and windowed."""
        stmt = run_order(sa.select(track_runs).where(*run_filter(query)), query.order)
        if query.limit is not None:
            stmt = stmt.limit(query.limit)
        if query.offset:
            stmt = stmt.offset(query.offset)
        with self._db.read() as conn:
            rows = conn.execute(stmt).mappings().all()
            return build_runs(conn, rows)

    def count_runs(self, query: RunQuery) -> int:
        """How many runs match ``query``."""
        stmt = sa.select(sa.func.count()).select_from(track_runs).where(*run_filter(query))
        with self._db.read() as conn:
            return int(conn.execute(stmt).scalar_one())

    def ranking_values(
        self, query: RunQuery, keys: Sequence[str]
    ) -> list[tuple[str, str, dict[str, float]]]:
        """Each matching run's latest values of ``keys`` (see ``track_ranking``)."""
        return metric_values(self._db, query, keys)

    def get_runs(self, run_ids: Sequence[str]) -> dict[str, Run]:
        """The runs with these ids, built in full."""
        return runs_by_id(self._db, run_ids)

    def change_token(self) -> object | None:
        """The workspace's write counter (SQLite), or None (PostgreSQL: no caching)."""
        return change_counter(self._db)


# -- helpers ------------------------------------------------------------------------------------
