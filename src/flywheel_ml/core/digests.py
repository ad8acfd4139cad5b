"""Content digests: BLAKE3, written ``blake3:<64 hex>``.

Everything Flywheel stores by content is named by such a digest. Paths in the object store are
derived from the hex part only, so a digest that passed :func:`parse_digest` is safe to put in a
path.
"""

from __future__ import annotations

import mmap
import os
import re
from pathlib import Path
from typing import NewType

import blake3

from flywheel_ml.errors import InvalidInputError

Digest = NewType("Digest", str)
"""A content digest such as ``blake3:af13...`` (64 hex characters)."""

PREFIX = "blake3:"
_DIGEST_RE = re.compile(r"^blake3:[0-9a-f]{64}$")
# Below this size a plain read is faster than setting up a memory map.
_MMAP_THRESHOLD = 1 << 20


def digest_bytes(data: bytes | bytearray | memoryview) -> Digest:
    """The digest of ``data``."""
    return Digest(PREFIX + blake3.blake3(data).hexdigest())


def digest_file(path: str | os.PathLike[str]) -> Digest:
    """The digest of a file's bytes; large files are memory-mapped and hashed on every core."""
    size = Path(path).stat().st_size
    if size < _MMAP_THRESHOLD:
        return digest_bytes(Path(path).read_bytes())
    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        hasher = blake3.blake3(max_threads=blake3.blake3.AUTO)
        hasher.update(mm)
        return Digest(PREFIX + hasher.hexdigest())


def parse_digest(text: str) -> Digest:
    """Validate ``text`` as a full digest.

    Raises:
        InvalidInputError: ``text`` is not ``blake3:`` followed by 64 lowercase hex characters.
    """
    # fullmatch: with match(), '$' would also accept a trailing newline into a path.
    if not _DIGEST_RE.fullmatch(text):
        raise InvalidInputError(
            f"not a content digest: {text[:80]!r}",
            hint="digests look like blake3:<64 lowercase hex characters>",
        )
    return Digest(text)


def hex_of(digest: Digest) -> str:
    """The 64 hex characters of ``digest`` without the algorithm prefix."""
    return digest[len(PREFIX) :]
