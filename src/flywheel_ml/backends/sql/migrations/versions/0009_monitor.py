"""monitor: rules, rule evaluations, alerts, reference binnings, delayed labels, turns."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "monitor_rules",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("expression", sa.Text, nullable=False),
        sa.Column("model", sa.String(100), nullable=True),
        sa.Column("notify", sa.JSON, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "monitor_evaluations",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("rule_id", sa.String(32), nullable=False),
        sa.Column("model", sa.String(100), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("value", sa.Float, nullable=True),
        sa.Column("fired", sa.Boolean, nullable=False),
        sa.Column("detail", sa.JSON, nullable=False),
    )
    op.create_index("ix_monitor_evaluations_rule", "monitor_evaluations", ["rule_id", "at"])
    op.create_table(
        "monitor_alerts",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("rule_id", sa.String(32), nullable=False),
        sa.Column("evaluation_id", sa.String(32), nullable=False),
        sa.Column("model", sa.String(100), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("deliveries", sa.JSON, nullable=False),
    )
    op.create_index("ix_monitor_alerts_at", "monitor_alerts", ["at"])
    op.create_table(
        "monitor_binnings",
        sa.Column("reference_digest", sa.String(80), primary_key=True),
        sa.Column("columns_key", sa.String(80), primary_key=True),
        sa.Column("object_digest", sa.String(80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "monitor_labels",
        sa.Column("request_id", sa.String(64), primary_key=True),
        sa.Column("row", sa.Integer, primary_key=True),
        sa.Column("label", sa.Text, nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "monitor_turns",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("model", sa.String(100), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("record", sa.JSON, nullable=False),
    )
    op.create_index("ix_monitor_turns_started", "monitor_turns", ["started_at"])


def downgrade() -> None:
    op.drop_index("ix_monitor_turns_started", table_name="monitor_turns")
    op.drop_table("monitor_turns")
    op.drop_table("monitor_labels")
    op.drop_table("monitor_binnings")
    op.drop_index("ix_monitor_alerts_at", table_name="monitor_alerts")
    op.drop_table("monitor_alerts")
    op.drop_index("ix_monitor_evaluations_rule", table_name="monitor_evaluations")
    op.drop_table("monitor_evaluations")
    op.drop_table("monitor_rules")
