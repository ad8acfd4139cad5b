"""The data stage's store on a SQLite workspace through the stdlib ``sqlite3`` driver.

The same tables, rules and answers as :class:`~flywheel_ml.backends.sql.data_store.SqlDataStore`
(the contract suite runs on both), without importing SQLAlchemy: the CLI's fast path adds folder
versions with it. Transactions are :class:`~flywheel_ml.backends.sql.sqlite_stdlib.StdlibSqlite`'s
(``BEGIN IMMEDIATE``, retried whole while locked), so version numbering is serialised by SQLite's
write lock as it is for the SQLAlchemy store.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime

from flywheel_ml.backends.sql.sqlite_stdlib import StdlibSqlite, db_json, db_time, from_db_time
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

VERSION_COLUMNS = "digest, dataset, number, parent, message, author, created_at, items, size, facts"
"""The columns :func:`version_from_row` reads, in its order."""
_DATASET_COLUMNS = "name, kind, role, label, id_column, created_at, created_by"
_POLICY_COLUMNS = "train, val, test, seed, set_at, set_by"


def version_from_row(row: Sequence[object]) -> DatasetVersion:
    """A version from a row of :data:`VERSION_COLUMNS`.

    Raises:
        ValueError, TypeError: a value of the wrong shape (facts that are not a JSON object).
    """
    digest, dataset, number, parent, message, author, created_at, items, size, facts = row
    loaded = json.loads(str(facts))
    if not isinstance(loaded, dict):
        raise ValueError("facts are not a JSON object")
    return DatasetVersion(
        digest=Digest(str(digest)),
        dataset=str(dataset),
        number=int(str(number)),
        parent=None if parent is None else Digest(str(parent)),
        message=str(message),
        author=str(author),
        created_at=from_db_time(created_at),
        items=int(str(items)),
        size=int(str(size)),
        facts=loaded,
    )


def _dataset(row: Sequence[object]) -> Dataset:
    name, kind, role, label, id_column, created_at, created_by = row
    return Dataset(
        name=str(name),
        kind=kind,  # type: ignore[arg-type]  # the column holds only DatasetKind values
        role=role,  # type: ignore[arg-type]  # and this one only DatasetRole values
        label=None if label is None else str(label),
        id_column=None if id_column is None else str(id_column),
        created_at=None if created_at is None else from_db_time(created_at),
        created_by=str(created_by),
    )


def _policy(row: Sequence[object]) -> SplitPolicy:
    train, val, test, seed, set_at, set_by = row
    return SplitPolicy(
        float(str(train)), float(str(val)), float(str(test)), int(str(seed)),
        None if set_at is None else from_db_time(set_at), str(set_by),
    )  # fmt: skip


class StdlibDataStore:
    """:class:`flywheel_ml.data.DataStore` on a SQLite file, with the stdlib driver."""

    def __init__(self, database: StdlibSqlite) -> None:
        self._db = database

    def create_version(self, dataset: Dataset, version: DatasetVersion) -> DatasetVersion:
        """Record the version (and the dataset on its first version) in one transaction.

        Raises:
            ConflictError: the dataset exists with another kind or role, or its newest version
                is no longer ``version.parent``; nothing is written.
        """

        def work(conn: sqlite3.Connection) -> DatasetVersion:
            row = conn.execute(
                "SELECT kind, role FROM data_datasets WHERE name = ?", (dataset.name,)
            ).fetchone()
            number = next_version_number(
                dataset, stored=None if row is None else (row[0], row[1]),
                latest=_latest(conn, dataset.name), parent=version.parent,
            )  # fmt: skip
            if row is None:
                conn.execute(
                    f"INSERT INTO data_datasets ({_DATASET_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (dataset.name, dataset.kind, dataset.role, dataset.label, dataset.id_column,
                     db_time(version.created_at), version.author),
                )  # fmt: skip
            conn.execute(
                "INSERT INTO data_versions (digest, dataset, number, parent, manifest, message, "
                "author, created_at, items, size, facts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (version.digest, version.dataset, number, version.parent, version.digest,
                 version.message, version.author, db_time(version.created_at), version.items,
                 version.size, db_json(dict(version.facts))),
            )  # fmt: skip
            # Read back, as the SQLAlchemy store does: the caller gets what readers will get.
            stored = conn.execute(
                f"SELECT {VERSION_COLUMNS} FROM data_versions WHERE digest = ?", (version.digest,)
            ).fetchone()
            return version_from_row(stored)

        return self._db.write(work)

    def get_dataset(self, name: str) -> Dataset | None:
        """The dataset, or None."""
        with self._db.read() as conn:
            row = conn.execute(
                f"SELECT {_DATASET_COLUMNS} FROM data_datasets WHERE name = ?", (name,)
            ).fetchone()
        return None if row is None else _dataset(row)

    def list_datasets(self) -> list[Dataset]:
        """Every dataset, by name."""
        with self._db.read() as conn:
            rows = conn.execute(
                f"SELECT {_DATASET_COLUMNS} FROM data_datasets ORDER BY name"
            ).fetchall()
        return [_dataset(r) for r in rows]

    def list_versions(self, name: str) -> list[DatasetVersion]:
        """Every version of a dataset, oldest first."""
        with self._db.read() as conn:
            rows = conn.execute(
                f"SELECT {VERSION_COLUMNS} FROM data_versions WHERE dataset = ? ORDER BY number",
                (name,),
            ).fetchall()
        return [version_from_row(r) for r in rows]

    def latest_version(self, name: str) -> DatasetVersion | None:
        """The newest version, or None."""
        with self._db.read() as conn:
            return _latest(conn, name)

    def get_version(self, name: str, number: int) -> DatasetVersion | None:
        """Version ``number`` of the dataset, or None."""
        with self._db.read() as conn:
            row = conn.execute(
                f"SELECT {VERSION_COLUMNS} FROM data_versions WHERE dataset = ? AND number = ?",
                (name, number),
            ).fetchone()
        return None if row is None else version_from_row(row)

    def find_versions(self, digest_prefix: str) -> list[DatasetVersion]:
        """Versions whose digest starts with the prefix (LIKE, escaped as SQLAlchemy does)."""
        escaped = digest_prefix.replace("/", "//").replace("%", "/%").replace("_", "/_")
        with self._db.read() as conn:
            rows = conn.execute(
                f"SELECT {VERSION_COLUMNS} FROM data_versions "
                "WHERE digest LIKE ? || '%' ESCAPE '/' LIMIT 20",
                (escaped,),
            ).fetchall()
        return [version_from_row(r) for r in rows]

    def get_split_policy(self) -> SplitPolicy | None:
        """The project's split policy, or None."""
        with self._db.read() as conn:
            row = conn.execute(f"SELECT {_POLICY_COLUMNS} FROM data_split_policy").fetchone()
        return None if row is None else _policy(row)

    def set_split_policy(self, policy: SplitPolicy, *, replace: bool) -> SplitPolicy:
        """Store the policy (once; ``replace`` overwrites)."""
        set_at = None if policy.set_at is None else db_time(policy.set_at)
        values = (policy.train, policy.val, policy.test, policy.seed, set_at, policy.set_by)

        def work(conn: sqlite3.Connection) -> SplitPolicy:
            row = conn.execute(f"SELECT {_POLICY_COLUMNS} FROM data_split_policy").fetchone()
            if row is None:
                conn.execute(
                    f'INSERT INTO data_split_policy ("key", {_POLICY_COLUMNS}) '
                    "VALUES ('project', ?, ?, ?, ?, ?, ?)",
                    values,
                )
                return policy
            current = _policy(row)
            same = (current.train, current.val, current.test, current.seed) == (
                policy.train, policy.val, policy.test, policy.seed,
            )  # fmt: skip
            if same:
                return current
            if not replace:
                raise ConflictError(
                    f"the split policy is already set (train {current.train}, val {current.val}, "
                    f"test {current.test}, seed {current.seed})",
                    hint="splits are fixed once per project so no item ever changes split",
                )
            conn.execute(
                "UPDATE data_split_policy SET train = ?, val = ?, test = ?, seed = ?, "
                "set_at = ?, set_by = ?",
                values,
            )
            return policy

        return self._db.write(work)

    def put_slice(self, data_slice: DataSlice) -> None:
        """Create or replace a slice."""
        key = (data_slice.dataset, data_slice.name)

        def work(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM data_slices WHERE dataset = ? AND name = ?", key)
            conn.execute(
                'INSERT INTO data_slices (dataset, name, "where", created_at, created_by) '
                "VALUES (?, ?, ?, ?, ?)",
                (*key, data_slice.where, db_time(data_slice.created_at), data_slice.created_by),
            )

        self._db.write(work)

    def list_slices(self, dataset: str | None = None) -> list[DataSlice]:
        """Slices of one dataset or all, by dataset and name."""
        where, params = ("WHERE dataset = ? ", (dataset,)) if dataset is not None else ("", ())
        with self._db.read() as conn:
            rows = conn.execute(
                'SELECT dataset, name, "where", created_at, created_by FROM data_slices '
                f"{where}ORDER BY dataset, name",
                params,
            ).fetchall()
        return [DataSlice(r[0], r[1], r[2], from_db_time(r[3]), r[4]) for r in rows]

    def delete_slice(self, dataset: str, name: str) -> bool:
        """Remove a slice; whether it existed."""
        deleted = self._db.write(
            lambda conn: (
                conn.execute(
                    "DELETE FROM data_slices WHERE dataset = ? AND name = ?", (dataset, name)
                ).rowcount
            )
        )
        return bool(deleted)

    def record_test_read(self, read: SealedRead) -> None:
        """Append an audit record."""
        self._db.write(
            lambda conn: conn.execute(
                'INSERT INTO data_test_reads (id, dataset, version, purpose, "rows", actor, at) '
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    read.id,
                    read.dataset,
                    read.version,
                    read.purpose,
                    read.rows,
                    read.actor,
                    db_time(read.at),
                ),
            )
        )

    def list_test_reads(self, *, dataset: str | None = None) -> list[SealedRead]:
        """Audit records, oldest first."""
        where, params = ("WHERE dataset = ? ", (dataset,)) if dataset is not None else ("", ())
        with self._db.read() as conn:
            rows = conn.execute(
                'SELECT id, dataset, version, purpose, "rows", actor, at FROM data_test_reads '
                f"{where}ORDER BY at, id",
                params,
            ).fetchall()
        return [
            SealedRead(r[0], r[1], Digest(r[2]), r[3], r[4], r[5], from_db_time(r[6])) for r in rows
        ]

    def record_check(self, report: CheckReport, *, version: Digest, at: datetime) -> None:
        """Keep a check run's result."""
        findings = [
            {"check": f.check, "severity": f.severity, "message": f.message}
            for f in report.findings
        ]
        row = (new_id(), version, int(report.passed), db_json(findings), db_time(at))
        self._db.write(
            lambda conn: conn.execute(
                "INSERT INTO data_check_runs (id, version, passed, findings, at) "
                "VALUES (?, ?, ?, ?, ?)",
                row,
            )
        )

    def latest_check(self, version: Digest) -> tuple[bool, datetime] | None:
        """Whether the newest check run of the version passed, and when."""
        with self._db.read() as conn:
            row = conn.execute(
                "SELECT passed, at FROM data_check_runs WHERE version = ? ORDER BY at DESC LIMIT 1",
                (version,),
            ).fetchone()
        return None if row is None else (bool(row[0]), from_db_time(row[1]))


def _latest(conn: sqlite3.Connection, name: str) -> DatasetVersion | None:
    row = conn.execute(
        f"SELECT {VERSION_COLUMNS} FROM data_versions WHERE dataset = ? "
        "ORDER BY number DESC LIMIT 1",
        (name,),
    ).fetchone()
    return None if row is None else version_from_row(row)
