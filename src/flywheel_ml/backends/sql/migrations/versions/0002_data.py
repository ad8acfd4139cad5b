"""data: datasets, versions, split policy, slices, test-set read audit, check runs, object packs."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "data_datasets",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("label", sa.String(200), nullable=True),
        sa.Column("id_column", sa.String(200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
    )
    op.create_table(
        "data_versions",
        sa.Column("digest", sa.String(80), primary_key=True),
        sa.Column("dataset", sa.String(100), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("parent", sa.String(80), nullable=True),
        sa.Column("manifest", sa.String(80), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("items", sa.BigInteger, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("facts", sa.JSON, nullable=False),
        sa.UniqueConstraint("dataset", "number", name="uq_data_versions_dataset_number"),
    )
    op.create_table(
        "data_split_policy",
        sa.Column("key", sa.String(20), primary_key=True),
        sa.Column("train", sa.Float, nullable=False),
        sa.Column("val", sa.Float, nullable=False),
        sa.Column("test", sa.Float, nullable=False),
        sa.Column("seed", sa.BigInteger, nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("set_by", sa.String(200), nullable=False),
    )
    op.create_table(
        "data_slices",
        sa.Column("dataset", sa.String(100), primary_key=True),
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("where", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
    )
    op.create_table(
        "data_test_reads",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("dataset", sa.String(100), nullable=False),
        sa.Column("version", sa.String(80), nullable=False),
        sa.Column("purpose", sa.Text, nullable=False),
        sa.Column("rows", sa.BigInteger, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_data_test_reads_at", "data_test_reads", ["at"])
    op.create_table(
        "data_check_runs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("version", sa.String(80), nullable=False),
        sa.Column("passed", sa.Boolean, nullable=False),
        sa.Column("findings", sa.JSON, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_data_check_runs_version", "data_check_runs", ["version"])
    op.create_table(
        "object_packs",
        sa.Column("digest", sa.String(80), primary_key=True),
        sa.Column("pack", sa.String(80), nullable=False),
        sa.Column("offset", sa.BigInteger, nullable=False),
        sa.Column("length", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_object_packs_pack", "object_packs", ["pack"])


def downgrade() -> None:
    op.drop_index("ix_object_packs_pack", table_name="object_packs")
    op.drop_table("object_packs")
    op.drop_index("ix_data_check_runs_version", table_name="data_check_runs")
    op.drop_table("data_check_runs")
    op.drop_index("ix_data_test_reads_at", table_name="data_test_reads")
    op.drop_table("data_test_reads")
    op.drop_table("data_slices")
    op.drop_table("data_split_policy")
    op.drop_table("data_versions")
    op.drop_table("data_datasets")
