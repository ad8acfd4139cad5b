"""Time-ordered random ids.

Ids are 32 lowercase hex characters: 48 bits of milliseconds since the epoch, then 80 random bits
(the layout of UUIDv7 without the version nibbles). Sorting ids sorts by creation time, which keeps
B-tree inserts at the right edge of the index, and two processes never collide.
"""

from __future__ import annotations

import os
import re
import time

_ID_RE = re.compile(r"^[0-9a-f]{32}$")


def new_id() -> str:
    """A new 32-hex-character id, ordered by creation time."""
    millis = time.time_ns() // 1_000_000
    return f"{millis:012x}{os.urandom(10).hex()}"


def is_id(text: str) -> bool:
    """Whether ``text`` has the shape of an id made by :func:`new_id`."""
    return bool(_ID_RE.fullmatch(text))
