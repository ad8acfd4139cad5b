"""Idempotency keys of the team server's writes: a retried request is answered, not redone.

A client sends the same ``Idempotency-Key`` with every attempt of one write. The first attempt
*claims* the key (a row in state ``started``, committed before the write runs); when the write is
answered, the answer is kept with the key (state ``done``). A later attempt with that key gets
the kept answer and the write is not done twice. An attempt that finds the key ``started`` is a
retry of a request still running (its client gave up waiting), or of one whose server died
between the write and the record of its answer: it waits for the answer and, when none comes,
is refused rather than risk doing the write twice. Keys are kept for a day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError as SqlIntegrityError

from flywheel_ml.backends.sql.database import Database
from flywheel_ml.backends.sql.tables import metadata

KEEP_FOR = timedelta(days=1)
"""How long a key and its answer are kept."""

request_keys = sa.Table(
    "request_keys",
    metadata,
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("user_name", sa.String(64), nullable=False),
    sa.Column("route", sa.String(200), nullable=False),
    sa.Column("state", sa.String(10), nullable=False),
    sa.Column("status", sa.Integer, nullable=True),
    sa.Column("body", sa.LargeBinary, nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_request_keys_created", "created_at"),
)


@dataclass(frozen=True, slots=True)
class KeptAnswer:
    """The answer recorded for a key: HTTP status and body (None while the write runs)."""

    user: str
    route: str
    status: int | None
    body: bytes | None


class SqlRequestKeys:
    """Idempotency keys on SQLite or PostgreSQL."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def claim(self, key: str, *, user: str, route: str, at: datetime) -> KeptAnswer | None:
        """Claim ``key`` for a new write; None when claimed, else what the key already holds."""

        def work(conn: Connection) -> KeptAnswer | None:
            conn.execute(request_keys.delete().where(request_keys.c.created_at < at - KEEP_FOR))
            row = (
                conn.execute(sa.select(request_keys).where(request_keys.c.key == key))
                .mappings()
                .first()
            )
            if row is not None:
                return KeptAnswer(row["user_name"], row["route"], row["status"], row["body"])
            conn.execute(
                request_keys.insert().values(
                    key=key, user_name=user, route=route, state="started", created_at=at
                )
            )
            return None

        try:
            return self._db.write(work)
        except SqlIntegrityError:
            # Another attempt claimed it between our read and insert: that one runs the write.
            found = self.get(key)
            return found if found is not None else KeptAnswer(user, route, None, None)

    def get(self, key: str) -> KeptAnswer | None:
        """What ``key`` holds, or None for an unknown key."""
        with self._db.read() as conn:
            row = (
                conn.execute(sa.select(request_keys).where(request_keys.c.key == key))
                .mappings()
                .first()
            )
        if row is None:
            return None
        return KeptAnswer(row["user_name"], row["route"], row["status"], row["body"])

    def complete(self, key: str, *, status: int, body: bytes) -> None:
        """Keep the answer of the write that claimed ``key``."""
        self._db.write(
            lambda conn: conn.execute(
                request_keys.update()
                .where(request_keys.c.key == key)
                .values(state="done", status=status, body=body)
            )
        )

    def release(self, key: str) -> None:
        """Forget ``key`` (its write failed and wrote nothing), so a retry runs it afresh."""
        self._db.write(
            lambda conn: conn.execute(request_keys.delete().where(request_keys.c.key == key))
        )
