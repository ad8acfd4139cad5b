"""The track stage's tables on the shared metadata (they mirror revision ``0003``).

Metric points are the hot path. They are stored as columnar blocks (``track_blocks``): a batch
of points becomes one row per metric series holding three packed arrays, so appending 100,000
points is a handful of row inserts and reading a series is one index range scan plus
``numpy.frombuffer``. Per-series aggregates (last, min, max, count) live in ``track_series``,
updated once per batch, so queries over runs never touch the points.
"""

from __future__ import annotations

import sqlalchemy as sa

from flywheel_ml.backends.sql.tables import metadata

track_runs = sa.Table(
    "track_runs",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("lineage", sa.JSON, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("process", sa.String(64), nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
    sa.Index("ix_track_runs_started_at", "started_at"),
    sa.Index("ix_track_runs_status", "status"),
)

track_params = sa.Table(
    "track_params",
    metadata,
    sa.Column("run_id", sa.String(32), sa.ForeignKey("track_runs.id"), primary_key=True),
    sa.Column("key", sa.String(250), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("num", sa.Float, nullable=True),
    sa.Index("ix_track_params_key_num", "key", "num"),
)
"""``value`` is the JSON text of the parameter; ``num`` its number when it is one (for filters)."""

track_tags = sa.Table(
    "track_tags",
    metadata,
    sa.Column("run_id", sa.String(32), sa.ForeignKey("track_runs.id"), primary_key=True),
    sa.Column("key", sa.String(250), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

track_datasets = sa.Table(
    "track_datasets",
    metadata,
    sa.Column("run_id", sa.String(32), sa.ForeignKey("track_runs.id"), primary_key=True),
    sa.Column("ref", sa.String(300), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Index("ix_track_datasets_name", "name"),
)

track_series = sa.Table(
    "track_series",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(32), sa.ForeignKey("track_runs.id"), nullable=False),
    sa.Column("key", sa.String(250), nullable=False),
    sa.Column("count", sa.BigInteger, nullable=False),
    sa.Column("last_value", sa.Float, nullable=True),
    sa.Column("last_step", sa.BigInteger, nullable=True),
    sa.Column("min_value", sa.Float, nullable=True),
    sa.Column("max_value", sa.Float, nullable=True),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.UniqueConstraint("run_id", "key", name="uq_track_series_run_key"),
    sa.Index("ix_track_series_key_last", "key", "last_value"),
)

track_blocks = sa.Table(
    "track_blocks",
    metadata,
    sa.Column("series_id", sa.Integer, nullable=False),
    sa.Column("first_step", sa.BigInteger, nullable=False),
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("steps", sa.LargeBinary, nullable=False),
    sa.Column("vals", sa.LargeBinary, nullable=False),
    sa.Column("times", sa.LargeBinary, nullable=False),
    sa.Index("ix_track_blocks_series", "series_id", "first_step"),
)
"""Points in columnar blocks: one row per series per batch, holding ``count`` little-endian
int64 steps, float64 values and float64 unix times in logging order. No foreign key on
purpose: ``series_id`` comes from ``track_series`` inside the same transaction."""

track_artifacts = sa.Table(
    "track_artifacts",
    metadata,
    sa.Column("run_id", sa.String(32), sa.ForeignKey("track_runs.id"), primary_key=True),
    sa.Column("name", sa.String(300), primary_key=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("digest", sa.String(80), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("meta", sa.JSON, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)
