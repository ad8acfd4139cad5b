"""track: runs, params, tags, datasets used, metric series and their point blocks, artifacts."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "track_runs",
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
    )
    op.create_index("ix_track_runs_started_at", "track_runs", ["started_at"])
    op.create_index("ix_track_runs_status", "track_runs", ["status"])
    op.create_table(
        "track_params",
        sa.Column("run_id", sa.String(32), sa.ForeignKey("track_runs.id"), primary_key=True),
        sa.Column("key", sa.String(250), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("num", sa.Float, nullable=True),
    )
    op.create_index("ix_track_params_key_num", "track_params", ["key", "num"])
    op.create_table(
        "track_tags",
        sa.Column("run_id", sa.String(32), sa.ForeignKey("track_runs.id"), primary_key=True),
        sa.Column("key", sa.String(250), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "track_datasets",
        sa.Column("run_id", sa.String(32), sa.ForeignKey("track_runs.id"), primary_key=True),
        sa.Column("ref", sa.String(300), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
    )
    op.create_index("ix_track_datasets_name", "track_datasets", ["name"])
    op.create_table(
        "track_series",
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
    )
    op.create_index("ix_track_series_key_last", "track_series", ["key", "last_value"])
    op.create_table(
        "track_blocks",
        sa.Column("series_id", sa.Integer, nullable=False),
        sa.Column("first_step", sa.BigInteger, nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("steps", sa.LargeBinary, nullable=False),
        sa.Column("vals", sa.LargeBinary, nullable=False),
        sa.Column("times", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_track_blocks_series", "track_blocks", ["series_id", "first_step"])
    op.create_table(
        "track_artifacts",
        sa.Column("run_id", sa.String(32), sa.ForeignKey("track_runs.id"), primary_key=True),
        sa.Column("name", sa.String(300), primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("digest", sa.String(80), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("meta", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("track_artifacts")
    op.drop_index("ix_track_blocks_series", table_name="track_blocks")
    op.drop_table("track_blocks")
    op.drop_index("ix_track_series_key_last", table_name="track_series")
    op.drop_table("track_series")
    op.drop_index("ix_track_datasets_name", table_name="track_datasets")
    op.drop_table("track_datasets")
    op.drop_table("track_tags")
    op.drop_index("ix_track_params_key_num", table_name="track_params")
    op.drop_table("track_params")
    op.drop_index("ix_track_runs_status", table_name="track_runs")
    op.drop_index("ix_track_runs_started_at", table_name="track_runs")
    op.drop_table("track_runs")
