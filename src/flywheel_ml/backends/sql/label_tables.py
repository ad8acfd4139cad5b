"""The label stage's tables: guide versions, annotations, queues and tasks, labelling
functions and records (agreement, aggregation, human baselines)."""

from __future__ import annotations

import sqlalchemy as sa

from flywheel_ml.backends.sql.tables import metadata

label_guides = sa.Table(
    "label_guides",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("body", sa.JSON, nullable=False),
    sa.Column("author", sa.String(200), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

label_annotations = sa.Table(
    "label_annotations",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("dataset", sa.String(100), nullable=False),
    sa.Column("item", sa.String(300), nullable=False),
    sa.Column("label", sa.JSON(none_as_null=True), nullable=True),
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
    sa.Index("ix_label_annotations_dataset", "dataset", "item"),
)

label_queues = sa.Table(
    "label_queues",
    metadata,
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

label_tasks = sa.Table(
    "label_tasks",
    metadata,
    sa.Column("queue", sa.String(100), primary_key=True),
    sa.Column("item", sa.String(300), primary_key=True),
    sa.Column("annotator", sa.String(200), primary_key=True),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("score", sa.Float, nullable=True),
    sa.Column("prelabel", sa.JSON(none_as_null=True), nullable=True),
    sa.Column("confidence", sa.Float, nullable=True),
    sa.Column("provenance", sa.Text, nullable=False),
    sa.Column("data", sa.JSON(none_as_null=True), nullable=True),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
    sa.Index("ix_label_tasks_order", "queue", "status", "position"),
)

label_functions = sa.Table(
    "label_functions",
    metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("target", sa.String(300), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
)

label_records = sa.Table(
    "label_records",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("dataset", sa.String(100), nullable=False),
    sa.Column("record", sa.JSON, nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_label_records_kind", "kind", "dataset", "id"),
)
