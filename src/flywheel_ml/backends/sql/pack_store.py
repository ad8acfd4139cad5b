"""The pack index: digest -> (pack, offset, length) of every object kept in a pack file."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from flywheel_ml.backends.pack_index import Location
from flywheel_ml.backends.sql.database import Database
from flywheel_ml.backends.sql.tables import metadata

object_packs = sa.Table(
    "object_packs",
    metadata,
    sa.Column("digest", sa.String(80), primary_key=True),
    sa.Column("pack", sa.String(80), nullable=False),
    sa.Column("offset", sa.BigInteger, nullable=False),
    sa.Column("length", sa.BigInteger, nullable=False),
    sa.Index("ix_object_packs_pack", "pack"),
)

_CHUNK = 900  # digests per IN (...) query: under SQLite's old 999-parameter limit


class SqlPackIndex:
    """:class:`~flywheel_ml.backends.pack_index.PackIndex` on SQLite or PostgreSQL.

    Raw driver SQL, because SQLAlchemy's per-row parameter processing would cost more than the
    pack write itself for tens of thousands of rows."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def insert(self, rows: Sequence[tuple[str, str, int, int]]) -> None:
        """Index ``(digest, pack, offset, length)`` rows; a digest already indexed is kept."""
        if self._db.is_sqlite:
            statement = (
                'INSERT OR IGNORE INTO object_packs (digest, pack, "offset", length) '
                "VALUES (?, ?, ?, ?)"
            )
        else:
            statement = (
                'INSERT INTO object_packs (digest, pack, "offset", length) '
                "VALUES (%s, %s, %s, %s) ON CONFLICT (digest) DO NOTHING"
            )
        self._db.write(lambda conn: conn.exec_driver_sql(statement, list(rows)))

    def locate(self, digests: Sequence[str]) -> dict[str, Location]:
        """The location of each of ``digests`` that is packed."""
        found: dict[str, Location] = {}
        if not digests:
            return found
        columns = 'digest, pack, "offset", length FROM object_packs'
        with self._db.read() as conn:
            if not self._db.is_sqlite:
                result = conn.exec_driver_sql(
                    f"SELECT {columns} WHERE digest = ANY(%s)", (list(digests),)
                )
                return {d: (p, o, n) for d, p, o, n in result}
            for start in range(0, len(digests), _CHUNK):
                chunk = tuple(digests[start : start + _CHUNK])
                marks = ",".join("?" * len(chunk))
                result = conn.exec_driver_sql(f"SELECT {columns} WHERE digest IN ({marks})", chunk)
                for digest, pack, off, length in result:
                    found[digest] = (pack, off, length)
        return found

    def all_locations(self) -> list[tuple[str, str, int, int]]:
        """Every packed object, ordered by pack and offset (sequential reads for verify)."""
        t = object_packs.c
        with self._db.read() as conn:
            rows = conn.execute(
                sa.select(t.digest, t.pack, t.offset, t.length).order_by(t.pack, t.offset)
            ).all()
        return [(r[0], r[1], r[2], r[3]) for r in rows]
