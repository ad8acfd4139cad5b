"""Version manifests, references (``NAME@vN``, ``NAME@latest``, digest prefix) and diffs.

A manifest is a JSON object stored in the object store; the version id is its digest. It names
the dataset, the parent version and the stored objects (Parquet parts of a table, or one object
per file of a folder dataset). Message, author and time live in the database, so the id depends
only on content and history: the same data added on top of the same parent gets the same id.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from flywheel_ml.core.digests import Digest
from flywheel_ml.errors import InvalidInputError

MANIFEST_FORMAT = "flywheel-dataset/1"
ID_COLUMN = "item_id"
"""The id column added to tables without one, and the id column of folder datasets."""
SPLIT_COLUMN = "__fw_split"
ROW_COLUMN = "__fw_row"
INTERNAL_PREFIX = "__fw_"

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_REF_RE = re.compile(r"^(?P<name>[^@]+)@(?P<sel>v(?P<num>[0-9]{1,9})|latest)$")
_PREFIX_RE = re.compile(r"^(blake3:)?(?P<hex>[0-9a-f]{6,64})$")


def check_name(name: str) -> str:
    """``name`` when it is a valid dataset or slice name.

    Raises:
        InvalidInputError: empty, too long, or characters other than letters, digits, ``_.-``.
    """
    if not _NAME_RE.fullmatch(name):
        raise InvalidInputError(
            f"invalid name {name!r}",
            hint="use 1-100 letters, digits, '_', '.' or '-', starting with a letter or digit",
        )
    return name


@dataclass(frozen=True, slots=True)
class Ref:
    """A parsed reference: a dataset name with a version number or ``latest``, or a digest prefix.

    ``number`` is None for ``latest`` (and for a bare name); ``prefix`` is set for digests.
    """

    name: str | None = None
    number: int | None = None
    prefix: str | None = None


def parse_ref(text: str) -> Ref:
    """Parse ``NAME@vN``, ``NAME@latest``, ``NAME`` (latest) or a digest prefix (6+ hex).

    Raises:
        InvalidInputError: the text is none of these.
    """
    text = text.strip()
    match = _REF_RE.fullmatch(text)
    if match:
        number = match.group("num")
        return Ref(name=check_name(match.group("name")), number=int(number) if number else None)
    prefix = _PREFIX_RE.fullmatch(text)
    if prefix and (text.startswith("blake3:") or not _NAME_RE.fullmatch(text) or len(text) >= 12):
        return Ref(prefix="blake3:" + prefix.group("hex"))
    if "@" not in text and _NAME_RE.fullmatch(text):
        return Ref(name=text)
    raise InvalidInputError(
        f"not a dataset version reference: {text!r}",
        hint="use NAME@v2, NAME@latest, NAME or a digest prefix of at least 6 hex characters",
    )


def encode_manifest(manifest: Mapping[str, Any]) -> bytes:
    """The canonical bytes of a manifest (sorted keys, so equal content gives an equal id)."""
    return orjson.dumps(manifest, option=orjson.OPT_SORT_KEYS)


def decode_manifest(data: bytes) -> dict[str, Any]:
    """A manifest read back from the object store.

    Raises:
        InvalidInputError: the bytes are not a Flywheel dataset manifest.
    """
    try:
        manifest = orjson.loads(data)
    except orjson.JSONDecodeError:
        manifest = None
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        raise InvalidInputError(
            "the stored manifest is not a Flywheel dataset manifest",
            hint="run `flywheel verify`; the object store may be damaged",
        )
    return manifest


def duplicate_error(duplicates: Sequence[str], *, where: str) -> InvalidInputError:
    """The error naming duplicate item ids (at most ten of them)."""
    shown = ", ".join(repr(d) for d in duplicates[:10])
    more = f" and {len(duplicates) - 10} more" if len(duplicates) > 10 else ""
    return InvalidInputError(
        f"duplicate item ids in {where}: {shown}{more}",
        hint="make the id column unique, or drop duplicate rows/files before adding",
    )


def digest_short(digest: Digest | str) -> str:
    """The first 12 hex characters of a digest."""
    return str(digest).removeprefix("blake3:")[:12]
