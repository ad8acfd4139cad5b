"""plan: project page revisions; the activity log; the change counter."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "plan_revisions",
        sa.Column("revision", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("page", sa.JSON, nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_by", sa.String(200), nullable=False),
    )
    op.create_table(
        "workspace_events",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("stage", sa.String(20), nullable=False),
        sa.Column("kind", sa.String(60), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("detail", sa.JSON, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_workspace_events_at", "workspace_events", ["at"])
    meta = op.create_table(
        "workspace_meta",
        sa.Column("key", sa.String(60), primary_key=True),
        sa.Column("value", sa.BigInteger, nullable=False),
    )
    op.bulk_insert(meta, [{"key": "changes", "value": 0}])


def downgrade() -> None:
    op.drop_table("workspace_meta")
    op.drop_index("ix_workspace_events_at", table_name="workspace_events")
    op.drop_table("workspace_events")
    op.drop_table("plan_revisions")
