"""tune: the Optuna journal kept in the workspace database, and the studies' descriptions."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tune_journal",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("body", sa.Text, nullable=False),
    )
    op.create_table(
        "tune_studies",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("config", sa.JSON, nullable=False),
        sa.Column("metric", sa.String(100), nullable=False),
        sa.Column("direction", sa.String(10), nullable=False),
        sa.Column("n_trials", sa.Integer, nullable=False),
        sa.Column("coarse_trials", sa.Integer, nullable=False),
        sa.Column("fine_space", sa.JSON, nullable=True),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("tune_studies")
    op.drop_table("tune_journal")
