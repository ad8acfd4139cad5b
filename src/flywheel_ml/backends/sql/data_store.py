"""The data stage's store: datasets, versions, split policy, slices, test reads, check runs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from flywheel_ml.backends.sql.database import Database
from flywheel_ml.backends.sql.tables import metadata
from flywheel_ml.backends.sql.timestamps import aware, required
from flywheel_ml.core.digests import Digest
from flywheel_ml.core.ids import new_id
from flywheel_ml.data.entities import (
    CheckReport,
    Dataset,
    DatasetVersion,
    DataSlice,
    SealedRead,
    SplitPolicy,
)
from flywheel_ml.data.store import next_version_number
from flywheel_ml.errors import ConflictError

_LOCK_KEY = 0x44415441  # "DATA": serialises version numbering on PostgreSQL

data_datasets = sa.Table(
    "data_datasets",
    metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("label", sa.String(200), nullable=True),
    sa.Column("id_column", sa.String(200), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
)

data_versions = sa.Table(
    "data_versions",
    metadata,
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

data_split_policy = sa.Table(
    "data_split_policy",
    metadata,
    sa.Column("key", sa.String(20), primary_key=True),
    sa.Column("train", sa.Float, nullable=False),
    sa.Column("val", sa.Float, nullable=False),
    sa.Column("test", sa.Float, nullable=False),
    sa.Column("seed", sa.BigInteger, nullable=False),
    sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("set_by", sa.String(200), nullable=False),
)

data_slices = sa.Table(
    "data_slices",
    metadata,
    sa.Column("dataset", sa.String(100), primary_key=True),
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("where", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
)

data_test_reads = sa.Table(
    "data_test_reads",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("dataset", sa.String(100), nullable=False),
    sa.Column("version", sa.String(80), nullable=False),
    sa.Column("purpose", sa.Text, nullable=False),
    sa.Column("rows", sa.BigInteger, nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_data_test_reads_at", "at"),
)

data_check_runs = sa.Table(
    "data_check_runs",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("version", sa.String(80), nullable=False),
    sa.Column("passed", sa.Boolean, nullable=False),
    sa.Column("findings", sa.JSON, nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_data_check_runs_version", "version"),
)


def _dataset(row: Any) -> Dataset:
    return Dataset(
        name=row.name,
        kind=row.kind,
        role=row.role,
        label=row.label,
        id_column=row.id_column,
        created_at=aware(row.created_at),
        created_by=row.created_by,
    )


def _version(row: Any) -> DatasetVersion:
    return DatasetVersion(
        digest=Digest(row.digest),
        dataset=row.dataset,
        number=row.number,
        parent=None if row.parent is None else Digest(row.parent),
        message=row.message,
        author=row.author,
        created_at=required(row.created_at),
        items=row.items,
        size=row.size,
        facts=row.facts,
    )


class SqlDataStore:
    """:class:`flywheel_ml.data.DataStore` on SQLite or PostgreSQL."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def create_version(self, dataset: Dataset, version: DatasetVersion) -> DatasetVersion:
        """Record the version (and the dataset on its first version) in one transaction."""

        def work(conn: Connection) -> DatasetVersion:
            if not self._db.is_sqlite:
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
            row = conn.execute(
                sa.select(data_datasets).where(data_datasets.c.name == dataset.name)
            ).first()
            number = next_version_number(
                dataset, stored=None if row is None else (row.kind, row.role),
                latest=_latest(conn, dataset.name), parent=version.parent,
            )  # fmt: skip
            if row is None:
                conn.execute(
                    data_datasets.insert().values(
                        name=dataset.name,
                        kind=dataset.kind,
                        role=dataset.role,
                        label=dataset.label,
                        id_column=dataset.id_column,
                        created_at=version.created_at,
                        created_by=version.author,
                    )
                )
            conn.execute(
                data_versions.insert().values(
                    digest=version.digest,
                    dataset=version.dataset,
                    number=number,
                    parent=version.parent,
                    manifest=version.digest,
                    message=version.message,
                    author=version.author,
                    created_at=version.created_at,
                    items=version.items,
                    size=version.size,
                    facts=dict(version.facts),
                )
            )
            return _version(
                conn.execute(
                    sa.select(data_versions).where(data_versions.c.digest == version.digest)
                ).one()
            )

        return self._db.write(work)

    def get_dataset(self, name: str) -> Dataset | None:
        """The dataset, or None."""
        with self._db.read() as conn:
            row = conn.execute(sa.select(data_datasets).where(data_datasets.c.name == name)).first()
        return None if row is None else _dataset(row)

    def list_datasets(self) -> list[Dataset]:
        """Every dataset, by name."""
        with self._db.read() as conn:
            rows = conn.execute(sa.select(data_datasets).order_by(data_datasets.c.name)).all()
        return [_dataset(r) for r in rows]

    def list_versions(self, name: str) -> list[DatasetVersion]:
        """Every version of a dataset, oldest first."""
        t = data_versions.c
        with self._db.read() as conn:
            rows = conn.execute(
                sa.select(data_versions).where(t.dataset == name).order_by(t.number)
            ).all()
        return [_version(r) for r in rows]

    def latest_version(self, name: str) -> DatasetVersion | None:
        """The newest version, or None."""
        with self._db.read() as conn:
            return _latest(conn, name)

    def get_version(self, name: str, number: int) -> DatasetVersion | None:
        """Version ``number`` of the dataset, or None."""
        t = data_versions.c
        with self._db.read() as conn:
            row = conn.execute(
                sa.select(data_versions).where(t.dataset == name, t.number == number)
            ).first()
        return None if row is None else _version(row)

    def find_versions(self, digest_prefix: str) -> list[DatasetVersion]:
        """Versions whose digest starts with the prefix."""
        t = data_versions.c
        with self._db.read() as conn:
            rows = conn.execute(
                sa.select(data_versions)
                .where(t.digest.startswith(digest_prefix, autoescape=True))
                .limit(20)
            ).all()
        return [_version(r) for r in rows]

    def get_split_policy(self) -> SplitPolicy | None:
        """The project's split policy, or None."""
        with self._db.read() as conn:
            row = conn.execute(sa.select(data_split_policy)).first()
        if row is None:
            return None
        return SplitPolicy(row.train, row.val, row.test, row.seed, aware(row.set_at), row.set_by)

    def set_split_policy(self, policy: SplitPolicy, *, replace: bool) -> SplitPolicy:
        """Store the policy (once; ``replace`` overwrites)."""

        def work(conn: Connection) -> SplitPolicy:
            row = conn.execute(sa.select(data_split_policy)).first()
            values = {
                "train": policy.train,
                "val": policy.val,
                "test": policy.test,
                "seed": policy.seed,
                "set_at": policy.set_at,
                "set_by": policy.set_by,
            }
            if row is None:
                conn.execute(data_split_policy.insert().values(key="project", **values))
                return policy
            current = SplitPolicy(
                row.train, row.val, row.test, row.seed, aware(row.set_at), row.set_by
            )
            same = (current.train, current.val, current.test, current.seed) == (
                policy.train,
                policy.val,
                policy.test,
                policy.seed,
            )
            if same:
                return current
            if not replace:
                raise ConflictError(
                    f"the split policy is already set (train {current.train}, val {current.val}, "
                    f"test {current.test}, seed {current.seed})",
                    hint="splits are fixed once per project so no item ever changes split",
                )
            conn.execute(data_split_policy.update().values(**values))
            return policy

        return self._db.write(work)

    def put_slice(self, data_slice: DataSlice) -> None:
        """Create or replace a slice."""

        def work(conn: Connection) -> None:
            t = data_slices.c
            conn.execute(
                data_slices.delete().where(
                    t.dataset == data_slice.dataset, t.name == data_slice.name
                )
            )
            conn.execute(
                data_slices.insert().values(
                    dataset=data_slice.dataset,
                    name=data_slice.name,
                    where=data_slice.where,
                    created_at=data_slice.created_at,
                    created_by=data_slice.created_by,
                )
            )

        self._db.write(work)

    def list_slices(self, dataset: str | None = None) -> list[DataSlice]:
        """Slices of one dataset or all, by dataset and name."""
        t = data_slices.c
        query = sa.select(data_slices).order_by(t.dataset, t.name)
        if dataset is not None:
            query = query.where(t.dataset == dataset)
        with self._db.read() as conn:
            rows = conn.execute(query).all()
        return [
            DataSlice(r.dataset, r.name, r.where, required(r.created_at), r.created_by)
            for r in rows
        ]

    def delete_slice(self, dataset: str, name: str) -> bool:
        """Remove a slice; whether it existed."""
        t = data_slices.c
        result = self._db.write(
            lambda conn: conn.execute(
                data_slices.delete().where(t.dataset == dataset, t.name == name)
            )
        )
        return bool(result.rowcount)

    def record_test_read(self, read: SealedRead) -> None:
        """Append an audit record."""
        self._db.write(
            lambda conn: conn.execute(
                data_test_reads.insert().values(
                    id=read.id,
                    dataset=read.dataset,
                    version=read.version,
                    purpose=read.purpose,
                    rows=read.rows,
                    actor=read.actor,
                    at=read.at,
                )
            )
        )

    def list_test_reads(self, *, dataset: str | None = None) -> list[SealedRead]:
        """Audit records, oldest first."""
        t = data_test_reads.c
        query = sa.select(data_test_reads).order_by(t.at, t.id)
        if dataset is not None:
            query = query.where(t.dataset == dataset)
        with self._db.read() as conn:
            rows = conn.execute(query).all()
        return [
            SealedRead(
                r.id, r.dataset, Digest(r.version), r.purpose, r.rows, r.actor, required(r.at)
            )
            for r in rows
        ]

    def record_check(self, report: CheckReport, *, version: Digest, at: datetime) -> None:
        """Keep a check run's result."""
        findings = [
            {"check": f.check, "severity": f.severity, "message": f.message}
            for f in report.findings
        ]
        self._db.write(
            lambda conn: conn.execute(
                data_check_runs.insert().values(
                    id=new_id(), version=version, passed=report.passed, findings=findings, at=at
                )
            )
        )

    def latest_check(self, version: Digest) -> tuple[bool, datetime] | None:
        """Whether the newest check run of the version passed, and when."""
        t = data_check_runs.c
        with self._db.read() as conn:
            row = conn.execute(
                sa.select(t.passed, t.at).where(t.version == version).order_by(t.at.desc()).limit(1)
            ).first()
        return None if row is None else (bool(row.passed), required(row.at))


def _latest(conn: Connection, name: str) -> DatasetVersion | None:
    t = data_versions.c
    row = conn.execute(
        sa.select(data_versions).where(t.dataset == name).order_by(t.number.desc()).limit(1)
    ).first()
    return None if row is None else _version(row)
