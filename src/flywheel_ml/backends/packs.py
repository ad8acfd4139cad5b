"""Small objects in pack files, indexed in the database.

Creating one file per object costs ~0.1 ms and an fsync per file ~0.4 ms, so 20,000 small files
would take seconds. :meth:`PackedObjectStore.put_many` appends small objects to one pack file
instead: written to a temporary name, fsynced once, renamed to ``<root>/packs/<id>.pack``, and
only then indexed (digest -> pack, offset, length) in the database. A process killed before the
index commit leaves an unindexed pack, which is never read; an indexed object is always durable.
Reading a packed object is one ``pread``. Large objects and single puts stay loose files in the
:class:`~flywheel_ml.backends.blobs.LocalObjectStore` layout; on an fsspec store nothing is packed.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

from flywheel_ml.backends.blobs import (
    FsspecObjectStore,
    LocalObjectStore,
    _copy_fd,
    raise_if_full,
)
from flywheel_ml.backends.hashing_copy import copy_and_hash, go_direct
from flywheel_ml.backends.pack_index import Location, PackIndex
from flywheel_ml.core.digests import Digest, digest_bytes
from flywheel_ml.core.ids import new_id
from flywheel_ml.errors import IntegrityError, NotFoundError

_EXPORT_THREADS = 3
_CHECKED_COPY = 16 << 20
"""Loose objects from this size up are exported by :func:`copy_and_hash`: written past the page
cache (a 2 GB ``copy_file_range`` spends ~4 s of kernel time filling it) and checked against
their digest on the way, which costs no extra pass."""


class PackedObjectStore:
    """An object store whose small batch-written objects live in packs (see module docstring)."""

    def __init__(self, base: LocalObjectStore | FsspecObjectStore, index: PackIndex) -> None:
        """Keep objects in ``base`` and the locations of packed ones in ``index``.

        The index is a Protocol, not a database: the workspace passes the SQLAlchemy one and the
        CLI's fast path a stdlib ``sqlite3`` one, so importing this module costs no SQLAlchemy.
        """
        self.base = base
        self._index = index
        self._root = base.root if isinstance(base, LocalObjectStore) else None
        self._packs = None if self._root is None else self._root / "packs"

    def put_bytes(self, data: bytes) -> Digest:
        """Store one object as a loose file."""
        return self.base.put_bytes(data)

    def put_file(self, path: str | os.PathLike[str], *, link: bool = False) -> Digest:
        """Store one file's bytes as a loose object (hardlinked with ``link`` where possible)."""
        return self.base.put_file(path, link=link)

    def put_many(
        self, blobs: Sequence[bytes], *, digests: Sequence[Digest] | None = None
    ) -> list[Digest]:
        """Store many objects with one pack write, one fsync and one index transaction.

        ``digests`` are the blobs' digests when the caller has them already (trusted).
        """
        digests = [digest_bytes(b) for b in blobs] if digests is None else list(digests)
        if self._packs is None:
            for blob in blobs:
                self.base.put_bytes(blob)
            return digests
        unique = dict(zip(digests, blobs, strict=True))
        known = self._locate(unique)
        new = [(d, b) for d, b in unique.items() if d not in known]
        if new:
            self._write_pack(new)
        return digests

    def _write_pack(self, entries: list[tuple[Digest, bytes]]) -> None:
        assert self._packs is not None and self._root is not None
        pack_id = new_id()
        tmp = self._root / "tmp" / f"{pack_id}.pack"
        rows: list[tuple[str, str, int, int]] = []
        offset = 0
        try:
            with tmp.open("wb") as handle:
                handle.writelines(blob for _, blob in entries)
                handle.flush()
                os.fsync(handle.fileno())
            self._packs.mkdir(exist_ok=True)
            os.replace(tmp, self._packs / f"{pack_id}.pack")
            _fsync_dir(self._packs)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise_if_full(exc, self._root)
            raise
        for digest, blob in entries:
            rows.append((digest, pack_id, offset, len(blob)))
            offset += len(blob)
        rows.sort()  # B-tree inserts in key order touch each index page once
        self._index.insert(rows)

    def _locate(self, digests: Iterable[str]) -> dict[str, Location]:
        if self._packs is None:
            return {}
        return self._index.locate(list(digests))

    def _pack_path(self, pack: str) -> Path:
        assert self._packs is not None
        # Pack names come from new_id() (32 hex), never from user input.
        return self._packs / f"{pack}.pack"

    def _read_packed(self, digest: Digest) -> bytes:
        location = self._locate([digest]).get(digest)
        if location is None:
            raise NotFoundError(
                f"object {digest} is not in the object store",
                hint="run `flywheel verify`; the workspace may have been copied without "
                ".flywheel/objects",
            )
        pack, offset, length = location
        with self._pack_path(pack).open("rb") as handle:
            return os.pread(handle.fileno(), length, offset)

    def get_bytes(self, digest: Digest) -> bytes:
        """The object's bytes, from a loose file or a pack."""
        try:
            return self.base.get_bytes(digest)
        except NotFoundError:
            if self._packs is None:
                raise
        return self._read_packed(digest)

    def open(self, digest: Digest) -> BinaryIO:
        """A binary reader of the object's bytes."""
        if self.base.exists(digest) or self._packs is None:
            return self.base.open(digest)
        return io.BytesIO(self._read_packed(digest))

    def exists(self, digest: Digest) -> bool:
        """Whether the object is stored, loose or packed."""
        return self.base.exists(digest) or digest in self._locate([digest])

    def iter_digests(self) -> Iterator[Digest]:
        """Every stored digest, loose ones first."""
        seen = set()
        for digest in self.base.iter_digests():
            seen.add(digest)
            yield digest
        for digest, _ok in self._iter_packed(check=False):
            if digest not in seen:
                yield digest

    def check_packed(
        self, progress: Callable[[], None] | None = None
    ) -> Iterator[tuple[Digest, bool]]:
        """Re-hash every packed object: ``(digest, bytes match)``; a missing pack fails all."""
        for item in self._iter_packed(check=True):
            if progress is not None:
                progress()
            yield item

    def _iter_packed(self, *, check: bool) -> Iterator[tuple[Digest, bool]]:
        if self._packs is None:
            return
        rows = self._index.all_locations()
        handle = None
        current = None
        try:
            for digest, pack, offset, length in rows:
                if not check:
                    yield Digest(digest), True
                    continue
                if pack != current:
                    if handle is not None:
                        handle.close()
                    current = pack
                    try:
                        handle = self._pack_path(pack).open("rb")
                    except FileNotFoundError:
                        handle = None
                if handle is None:
                    yield Digest(digest), False
                    continue
                data = os.pread(handle.fileno(), length, offset)
                yield Digest(digest), len(data) == length and digest_bytes(data) == digest
        finally:
            if handle is not None:
                handle.close()

    def export_many(self, targets: Sequence[tuple[Digest, str | os.PathLike[str]]]) -> None:
        """Write each object to a new file at its target (exclusive create, no fsync).

        Creating files dominates (~20 us each on ext4), and creates in different folders do
        not contend, so contiguous runs of targets (whole folders, as targets come sorted by
        path) are written by a few threads.

        Raises:
            FileExistsError: a target exists already (the files written are kept).
        """
        located = self._locate(d for d, _ in targets)
        packs: dict[str, int] = {}
        try:
            for pack, _, _ in located.values():
                if pack not in packs:
                    packs[pack] = os.open(self._pack_path(pack), os.O_RDONLY)
            runs = _EXPORT_THREADS if len(targets) >= 256 else 1
            size = -(-len(targets) // runs)
            chunks = [targets[i : i + size] for i in range(0, len(targets), size)]
            if len(chunks) <= 1:
                for chunk in chunks:
                    self._export_run(chunk, located, packs)
                return
            with ThreadPoolExecutor(len(chunks)) as pool:
                futures = [pool.submit(self._export_run, c, located, packs) for c in chunks]
                for future in futures:
                    future.result()
        finally:
            for fd in packs.values():
                os.close(fd)

    def _export_run(
        self,
        targets: Sequence[tuple[Digest, str | os.PathLike[str]]],
        located: dict[str, Location],
        packs: dict[str, int],
    ) -> None:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
        for digest, target in targets:
            location = located.get(digest)
            out = os.open(target, flags, 0o644)
            try:
                if location is None:
                    self._export_loose(digest, out, target)
                    continue
                pack, offset, length = location
                _write_all(out, os.pread(packs[pack], length, offset))
            finally:
                os.close(out)

    def _export_loose(self, digest: Digest, out: int, target: str | os.PathLike[str]) -> None:
        if isinstance(self.base, LocalObjectStore):
            source = self.base.path_of(digest)
            try:
                big = source.stat().st_size >= _CHECKED_COPY
            except FileNotFoundError:
                big = False  # open() below reports the missing object
            if big:
                go_direct(out)
                found = copy_and_hash(source, out)
                if found != digest:
                    os.unlink(target)
                    raise IntegrityError(
                        f"object {digest} is corrupt: its bytes hash to {found}",
                        hint="run `flywheel verify`; restore the object from a copy or re-add it",
                    )
                return
        with self.base.open(digest) as handle:
            if isinstance(handle, io.BufferedReader):
                _copy_fd(handle.fileno(), out)
            else:
                _write_all(out, handle.read())


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
