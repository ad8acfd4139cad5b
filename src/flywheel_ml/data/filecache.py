"""The unchanged-file cache: a file whose size, mtime and inode match is not hashed again.

The cache is a JSON file under ``.flywheel/``. An entry is trusted only when the file's mtime is
clearly older than the moment the file was hashed; a file written in the same instant as it was
hashed could change again without its mtime moving (git's "racy" case), so it is re-hashed.
Entries are saved only after their objects are durable, so a cached digest is always stored.
"""

from __future__ import annotations

import os
import time
from array import array
from collections.abc import Sequence
from itertools import chain
from operator import itemgetter
from pathlib import Path
from typing import Any

import orjson

from flywheel_ml.core.digests import Digest, digest_bytes
from flywheel_ml.core.ids import new_id
from flywheel_ml.data.readers import ScannedFile

CACHE_FILE = "data-file-cache.json"
"""The cache's file name in the workspace's ``.flywheel/`` folder (``Workspace.data`` opens it
there; the CLI's fast path reads it without opening a workspace)."""
_RACY_NS = 50_000_000  # 50 ms: coarser than any filesystem's timestamp granularity
_FORMAT = 2
_RELPATH = itemgetter(0)
_MTIME = itemgetter(3)
_STATS = itemgetter(2, 3, 4)  # size, mtime_ns, inode of a ScannedFile


class FileCache:
    """Digests of input files keyed by absolute path, and the last input tree per dataset.

    Two files: ``<path>`` holds the per-dataset stat signatures (small, read on every add) and
    ``<path>.files`` the per-file entries (read only when some file has to be looked up).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._files_path = path.with_name(path.name + ".files")
        self._files: dict[str, list[Any]] | None = None
        self._trees: dict[str, list[str]] = _load(path, "trees")
        self._dirty_trees = False
        self._dirty_files = False

    def _entries(self) -> dict[str, list[Any]]:
        if self._files is None:
            self._files = _load(self._files_path, "files")
        return self._files

    def lookup(self, scanned: ScannedFile) -> Digest | None:
        """The cached digest when the file is unchanged since it was cached, else None."""
        entry = self._entries().get(scanned.path)
        if entry is None:
            return None
        size, mtime_ns, inode, digest, hashed_ns = entry
        if (
            size == scanned.size
            and mtime_ns == scanned.mtime_ns
            and inode == scanned.inode
            and mtime_ns + _RACY_NS < hashed_ns
        ):
            return Digest(digest)
        return None

    def lookup_many(self, files: Sequence[ScannedFile]) -> list[Digest | None]:
        """:meth:`lookup` of each file (one loop with locals: 2x faster for a whole folder)."""
        get = self._entries().get
        found: list[Digest | None] = []
        append = found.append
        # Unpacking the tuple: 3x cheaper than the named fields' property lookups.
        for _, path, size, mtime_ns, inode in files:
            entry = get(path)
            if (
                entry is not None
                and entry[0] == size
                and entry[1] == mtime_ns
                and entry[2] == inode
                and mtime_ns + _RACY_NS < entry[4]
            ):
                append(entry[3])
            else:
                append(None)
        return found

    def remember(self, scanned: ScannedFile, digest: Digest, *, hashed_ns: int) -> None:
        """Cache the digest of a file (hashed at ``hashed_ns``) whose object is now stored."""
        self._entries()[scanned.path] = [
            scanned.size,
            scanned.mtime_ns,
            scanned.inode,
            digest,
            hashed_ns,
        ]
        self._dirty_files = True

    def remember_many(
        self, scanned: Sequence[ScannedFile], digests: Sequence[Digest], *, hashed_ns: int
    ) -> None:
        """:meth:`remember` for many files at once (one dict update: 20k files in ~5 ms)."""
        self._entries().update(
            (path, [size, mtime_ns, inode, digest, hashed_ns])
            for (_, path, size, mtime_ns, inode), digest in zip(scanned, digests, strict=True)
        )
        self._dirty_files = True

    def last_tree(self, dataset: str) -> tuple[str, str] | None:
        """The stat signature and version digest of the dataset's last add from a folder."""
        entry = self._trees.get(dataset)
        return None if entry is None else (entry[0], entry[1])

    def remember_tree(self, dataset: str, signature: str | None, version: str) -> None:
        """Record that the input with ``signature`` produced ``version`` (None: forget it)."""
        if signature is None:
            self._trees.pop(dataset, None)
        else:
            self._trees[dataset] = [signature, version]
        self._dirty_trees = True

    def save(self) -> None:
        """Write what changed, atomically (a lost cache only costs re-hashing)."""
        if self._dirty_files and self._files is not None:
            _dump(self._files_path, "files", self._files)
        if self._dirty_trees:
            _dump(self.path, "trees", self._trees)
        self._dirty_files = self._dirty_trees = False


def _load(path: Path, key: str) -> dict[str, Any]:
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return {}
    if isinstance(data, dict) and data.get("format") == _FORMAT:
        found = data.get(key)
        if isinstance(found, dict):
            return found
    return {}


def _dump(path: Path, key: str, value: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{new_id()}")
    try:
        tmp.write_bytes(orjson.dumps({"format": _FORMAT, key: value}))
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)


def stat_signature(files: Sequence[ScannedFile], *, options: str) -> str | None:
    """A digest of every file's path, size, mtime and inode, or None while any file is racy.

    When it equals the signature recorded for the dataset's newest version, no file changed
    since, so an add is a no-op without looking up a single digest.
    """
    now = time.time_ns()
    # itemgetter and packed integers: 3x faster than attribute access and formatted text.
    if not files or max(map(_MTIME, files)) + _RACY_NS >= now:
        return None
    names = "\x00".join(map(_RELPATH, files))
    try:
        stats = array("q", chain.from_iterable(map(_STATS, files))).tobytes()
    except OverflowError:  # an inode number above 2**63: text always fits
        stats = "\x00".join(f"{f.size}\x01{f.mtime_ns}\x01{f.inode}" for f in files).encode()
    header = f"{options}\x00{len(files)}\x00".encode()
    return digest_bytes(header + names.encode("utf-8", "surrogateescape") + b"\x00" + stats)
