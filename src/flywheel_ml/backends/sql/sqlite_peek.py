"""Read-only look at one dataset in a SQLite workspace database, with the stdlib driver.

``flywheel data status`` and a no-op ``flywheel data add`` answer faster than SQLAlchemy imports
(~0.2 s). They need three rows: the dataset, its newest version and the split policy. This module
reads them in one read transaction of a ``mode=ro`` connection and never writes. Any surprise (no
file, a schema at another revision than this code's head, a missing table, a busy database) gives
None, and the caller takes the full path through the workspace, which reports errors properly.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from flywheel_ml.backends.sql.revisions import head_revision
from flywheel_ml.backends.sql.sqlite_stdlib_data import VERSION_COLUMNS, version_from_row
from flywheel_ml.data.entities import Dataset, DatasetVersion, SplitPolicy


@dataclass(frozen=True, slots=True)
class DatasetPeek:
    """A dataset with its newest version and the project's split policy, as the stores give them."""

    dataset: Dataset
    latest: DatasetVersion
    policy: SplitPolicy


def sqlite_file(db_url: str) -> Path | None:
    """The database file of a plain ``sqlite:///PATH`` URL; None for any other URL."""
    prefix = "sqlite:///"
    if not db_url.startswith(prefix) or "?" in db_url or len(db_url) == len(prefix):
        return None
    return Path(db_url[len(prefix) :])


def peek_dataset(db_file: Path, name: str) -> DatasetPeek | None:
    """The dataset ``name`` with its newest version, or None when anything is not as expected."""
    if not db_file.is_file():
        return None
    try:
        conn = sqlite3.connect(
            f"file:{quote(str(db_file.resolve()))}?mode=ro", uri=True, timeout=1.0
        )
    except sqlite3.Error:
        return None
    try:
        conn.execute("BEGIN")  # one snapshot for the reads below
        revision = conn.execute("SELECT version_num FROM flywheel_alembic_version").fetchone()
        if revision is None or revision[0] != head_revision():
            return None
        row = conn.execute(
            "SELECT name, kind, role, label, id_column FROM data_datasets WHERE name = ?", (name,)
        ).fetchone()
        version = conn.execute(
            f"SELECT {VERSION_COLUMNS} FROM data_versions WHERE dataset = ? "
            "ORDER BY number DESC LIMIT 1",
            (name,),
        ).fetchone()
        policy = conn.execute("SELECT train, val, test, seed FROM data_split_policy").fetchone()
        if row is None or version is None or policy is None:
            return None
        return DatasetPeek(
            dataset=Dataset(
                name=row[0], kind=row[1], role=row[2], label=row[3], id_column=row[4]
            ),
            latest=version_from_row(version),
            policy=SplitPolicy(
                train=float(policy[0]), val=float(policy[1]), test=float(policy[2]),
                seed=int(policy[3]),
            ),
        )  # fmt: skip
    except (sqlite3.Error, ValueError, TypeError):
        return None
    finally:
        conn.close()
