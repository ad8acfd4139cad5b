"""What :class:`~flywheel_ml.backends.packs.PackedObjectStore` needs from its index.

The index maps the digest of every packed object to its pack file, offset and length. It lives
in the workspace database: :class:`~flywheel_ml.backends.sql.pack_store.SqlPackIndex` keeps it
through SQLAlchemy (SQLite and PostgreSQL), and
:class:`~flywheel_ml.backends.sql.sqlite_stdlib.StdlibPackIndex` through the standard library's
``sqlite3`` for the CLI's fast path, which must not pay for importing SQLAlchemy. Both follow
this contract, so the pack store works on either.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

Location = tuple[str, int, int]
"""Where a packed object is: ``(pack id, offset, length)``."""


class PackIndex(Protocol):
    """Digest -> (pack, offset, length) of every object kept in a pack file."""

    def insert(self, rows: Sequence[tuple[str, str, int, int]]) -> None:
        """Index ``(digest, pack, offset, length)`` rows in one durable transaction.

        A digest already indexed keeps its first location (both copies hold the same bytes).
        """
        ...

    def locate(self, digests: Sequence[str]) -> dict[str, Location]:
        """The location of each of ``digests`` that is packed; the others are left out."""
        ...

    def all_locations(self) -> list[tuple[str, str, int, int]]:
        """Every packed object as ``(digest, pack, offset, length)``, by pack and offset."""
        ...
