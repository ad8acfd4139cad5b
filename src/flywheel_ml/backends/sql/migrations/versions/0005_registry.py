"""registry: model versions, current aliases, alias moves, evaluations, behavioural cases."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "registry_versions",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("dataset", sa.String(200), nullable=False),
        sa.Column("git_commit", sa.String(64), nullable=False),
        sa.Column("artifact_digest", sa.String(80), nullable=False),
        sa.Column("artifact_format", sa.String(20), nullable=False),
        sa.Column("artifact_size", sa.BigInteger, nullable=False),
        sa.Column("estimator", sa.String(300), nullable=False),
        sa.Column("feature_names", sa.JSON, nullable=False),
        sa.Column("trusted", sa.JSON, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.String(200), nullable=True),
    )
    op.create_table(
        "registry_aliases",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("alias", sa.String(40), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_table(
        "registry_alias_moves",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("alias", sa.String(40), nullable=False),
        sa.Column("from_version", sa.Integer, nullable=True),
        sa.Column("to_version", sa.Integer, nullable=True),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("override", sa.Boolean, nullable=False),
    )
    op.create_index("ix_registry_alias_moves_name", "registry_alias_moves", ["name", "seq"])
    op.create_table(
        "registry_evaluations",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("passed", sa.Boolean, nullable=False),
        sa.Column("record", sa.JSON, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_registry_evaluations_version", "registry_evaluations", ["name", "version"])
    op.create_table(
        "registry_cases",
        sa.Column("model", sa.String(100), primary_key=True),
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("rows_digest", sa.String(80), nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("expect", sa.String(200), nullable=False),
        sa.Column("min_score", sa.Float, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("registry_cases")
    op.drop_index("ix_registry_evaluations_version", table_name="registry_evaluations")
    op.drop_table("registry_evaluations")
    op.drop_index("ix_registry_alias_moves_name", table_name="registry_alias_moves")
    op.drop_table("registry_alias_moves")
    op.drop_table("registry_aliases")
    op.drop_table("registry_versions")
