"""The tune stage's store: Optuna's journal as rows, and the studies' descriptions.

Journal appends are serialised (SQLite: the ``BEGIN IMMEDIATE`` write lock; PostgreSQL: a
transaction-scoped advisory lock) and numbered inside that lock, so sequence numbers are
committed in order: a reader that has seen entry ``n`` has seen every entry before it, which is
what Optuna's journal replay relies on. Writes go through :meth:`Database.write`, which retries
lock and serialisation conflicts, so concurrent trials never fail with "database is locked".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from flywheel_ml.backends.sql.database import Database
from flywheel_ml.backends.sql.tables import metadata
from flywheel_ml.backends.sql.timestamps import required
from flywheel_ml.tune.entities import StudyInfo

_LOCK_KEY = 0x54554E45  # "TUNE": serialises journal appends on PostgreSQL

tune_journal = sa.Table(
    "tune_journal",
    metadata,
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("body", sa.Text, nullable=False),
)

tune_studies = sa.Table(
    "tune_studies",
    metadata,
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


class SqlTuneStore:
    """:class:`flywheel_ml.tune.store.TuneStore` over SQLAlchemy Core."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self._select_from = (
            sa.select(tune_journal.c.seq, tune_journal.c.body)
            .where(tune_journal.c.seq >= sa.bindparam("start"))
            .order_by(tune_journal.c.seq)
        )
        self._append_next = tune_journal.insert().from_select(
            ["seq", "body"],
            sa.select(
                sa.func.coalesce(sa.func.max(tune_journal.c.seq) + 1, 0),
                sa.bindparam("body", type_=sa.Text),
            ),
        )

    def read_journal(self, from_seq: int) -> list[dict[str, Any]]:
        with self.database.read() as conn:
            rows = conn.execute(self._select_from, {"start": from_seq}).all()
        out = []
        expected = from_seq
        for seq, body in rows:
            if seq != expected:  # never happens: appends are numbered under a lock
                break
            out.append(orjson.loads(body))
            expected += 1
        return out

    def append_journal(self, entries: Sequence[Mapping[str, Any]], *, durable: bool = True) -> None:
        if not entries:
            return
        bodies = [orjson.dumps(dict(e)).decode() for e in entries]

        def work(conn: Connection) -> None:
            if not self.database.is_sqlite:
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
            # One statement per entry numbers it after the last one: the journal takes an
            # append per Optuna call, several per trial, so a round trip saved counts.
            for body in bodies:
                conn.execute(self._append_next, {"body": body})

        self.database.write(work, durable=durable)

    def create_study(self, study: StudyInfo) -> bool:
        def work(conn: Connection) -> bool:
            exists = conn.execute(
                sa.select(tune_studies.c.name).where(tune_studies.c.name == study.name)
            ).first()
            if exists is not None:
                return False
            conn.execute(
                tune_studies.insert().values(
                    name=study.name,
                    config=dict(study.config),
                    metric=study.metric,
                    direction=study.direction,
                    n_trials=study.n_trials,
                    coarse_trials=study.coarse_trials,
                    fine_space=None if study.fine_space is None else dict(study.fine_space),
                    created_by=study.created_by,
                    created_at=study.created_at,
                )
            )
            return True

        return self.database.write(work)

    def get_study(self, name: str) -> StudyInfo | None:
        with self.database.read() as conn:
            row = (
                conn.execute(sa.select(tune_studies).where(tune_studies.c.name == name))
                .mappings()
                .first()
            )
        return None if row is None else _study(row)

    def list_studies(self) -> list[StudyInfo]:
        with self.database.read() as conn:
            rows = (
                conn.execute(sa.select(tune_studies).order_by(tune_studies.c.created_at.desc()))
                .mappings()
                .all()
            )
        return [_study(r) for r in rows]

    def set_fine_space(self, name: str, space: Mapping[str, object]) -> None:
        self.database.write(
            lambda conn: conn.execute(
                tune_studies.update()
                .where(tune_studies.c.name == name)
                .values(fine_space=dict(space))
            )
        )


def _study(row: sa.RowMapping) -> StudyInfo:
    created: datetime = required(row["created_at"])
    return StudyInfo(
        name=row["name"],
        config=row["config"],
        metric=row["metric"],
        direction=row["direction"],
        n_trials=row["n_trials"],
        coarse_trials=row["coarse_trials"],
        fine_space=row["fine_space"],
        created_by=row["created_by"],
        created_at=created,
    )
