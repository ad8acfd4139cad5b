"""label: guide versions, annotations, queues with tasks, labelling functions, results."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "label_guides",
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("body", sa.JSON, nullable=False),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "label_annotations",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("dataset", sa.String(100), nullable=False),
        sa.Column("item", sa.String(300), nullable=False),
        sa.Column("label", sa.JSON, nullable=True),
        sa.Column("annotator", sa.String(200), nullable=False),
        sa.Column("source", sa.String(10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_s", sa.Float, nullable=True),
        sa.Column("guide_version", sa.Integer, nullable=True),
        sa.Column("hard", sa.Boolean, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("queue", sa.String(100), nullable=True),
        sa.Column("confidence", sa.Float, nullable=True),
        sa.Column("provenance", sa.Text, nullable=False),
    )
    op.create_index("ix_label_annotations_dataset", "label_annotations", ["dataset", "item"])
    op.create_table(
        "label_queues",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("dataset", sa.String(100), nullable=False),
        sa.Column("version", sa.String(120), nullable=False),
        sa.Column("strategy", sa.String(20), nullable=False),
        sa.Column("model", sa.String(200), nullable=True),
        sa.Column("annotators", sa.JSON, nullable=False),
        sa.Column("overlap", sa.Float, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
    )
    op.create_table(
        "label_tasks",
        sa.Column("queue", sa.String(100), primary_key=True),
        sa.Column("item", sa.String(300), primary_key=True),
        sa.Column("annotator", sa.String(200), primary_key=True),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("score", sa.Float, nullable=True),
        sa.Column("prelabel", sa.JSON, nullable=True),
        sa.Column("confidence", sa.Float, nullable=True),
        sa.Column("provenance", sa.Text, nullable=False),
        sa.Column("data", sa.JSON, nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_label_tasks_order", "label_tasks", ["queue", "status", "position"])
    op.create_table(
        "label_functions",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("target", sa.String(300), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
    )
    op.create_table(
        "label_records",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("dataset", sa.String(100), nullable=False),
        sa.Column("record", sa.JSON, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_label_records_kind", "label_records", ["kind", "dataset", "id"])


def downgrade() -> None:
    op.drop_index("ix_label_records_kind", table_name="label_records")
    op.drop_table("label_records")
    op.drop_table("label_functions")
    op.drop_index("ix_label_tasks_order", table_name="label_tasks")
    op.drop_table("label_tasks")
    op.drop_table("label_queues")
    op.drop_index("ix_label_annotations_dataset", table_name="label_annotations")
    op.drop_table("label_annotations")
    op.drop_table("label_guides")
