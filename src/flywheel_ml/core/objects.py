"""The object-store contract that stages use to keep bytes by content."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import BinaryIO, Protocol

from flywheel_ml.core.digests import Digest


class ObjectStore(Protocol):
    """Bytes kept under their BLAKE3 digest; writes are atomic and idempotent."""

    def put_bytes(self, data: bytes) -> Digest:
        """Store ``data`` (once, however often it is put) and return its digest."""
        ...

    def put_file(self, path: str | os.PathLike[str], *, link: bool = False) -> Digest:
        """Store a file's bytes; ``link=True`` hardlinks instead of copying where possible."""
        ...

    def get_bytes(self, digest: Digest) -> bytes:
        """The bytes stored under ``digest``; raises ``NotFoundError`` when absent."""
        ...

    def open(self, digest: Digest) -> BinaryIO:
        """A binary reader of the object's bytes."""
        ...

    def exists(self, digest: Digest) -> bool:
        """Whether the object is stored."""
        ...

    def iter_digests(self) -> Iterator[Digest]:
        """Every stored digest, in no particular order."""
        ...
