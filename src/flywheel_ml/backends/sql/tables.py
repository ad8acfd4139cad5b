"""SQLAlchemy Core tables shared by the stores; each stage's store module adds its own tables.

The tables mirror the Alembic revisions in ``migrations/versions``; a test checks that the
migrated schema and this metadata agree.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

plan_revisions = sa.Table(
    "plan_revisions",
    metadata,
    sa.Column("revision", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("page", sa.JSON, nullable=False),
    sa.Column("summary", sa.Text, nullable=False),
    sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("changed_by", sa.String(200), nullable=False),
)

workspace_events = sa.Table(
    "workspace_events",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("stage", sa.String(20), nullable=False),
    sa.Column("kind", sa.String(60), nullable=False),
    sa.Column("subject", sa.String(300), nullable=False),
    sa.Column("detail", sa.JSON, nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_workspace_events_at", "at"),
)

workspace_meta = sa.Table(
    "workspace_meta",
    metadata,
    sa.Column("key", sa.String(60), primary_key=True),
    sa.Column("value", sa.BigInteger, nullable=False),
)
"""Counters; ``changes`` counts committed write transactions on SQLite (see ``Database``)."""
