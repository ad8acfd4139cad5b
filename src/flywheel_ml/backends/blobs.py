"""Content-addressed object store on a local folder or any fsspec URL.

An object lives at ``<root>/<hex[:2]>/<hex[2:]>`` where ``hex`` is its BLAKE3 digest; no user
string ever becomes part of a path. A write goes to a temporary file in ``<root>/tmp``, is
fsynced, and is renamed into place, so a reader (or a process killed mid-write) never leaves or
sees half an object. On an fsspec URL the same layout is used and uploads go to a temporary key
that is moved into place; downloads are verified against the digest.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from flywheel_ml.backends.hashing_copy import copy_and_hash, open_for_copy
from flywheel_ml.core.digests import Digest, digest_bytes, digest_file, hex_of, parse_digest
from flywheel_ml.core.ids import new_id
from flywheel_ml.errors import (
    FlywheelError,
    IntegrityError,
    NotFoundError,
    StorageFullError,
    StoreUnavailableError,
)

_COPY_CHUNK = 1 << 30


class LocalObjectStore:
    """Objects in a local folder; see the module docstring for the layout and write protocol."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self._tmp = self.root / "tmp"
        self._tmp.mkdir(parents=True, exist_ok=True)

    def path_of(self, digest: Digest) -> Path:
        """Where the object for ``digest`` lives (whether or not it exists)."""
        hexdigest = hex_of(parse_digest(digest))
        return self.root / hexdigest[:2] / hexdigest[2:]

    def sweep_temporary(self, *, older_than_s: float = 6 * 3600) -> int:
        """Delete temporary files (objects or packs being written) untouched for
        ``older_than_s`` seconds, and return how many went.

        A write killed by ``kill -9`` or a power cut leaves its temporary file behind; nothing
        refers to it, because objects and packs become visible only by the final rename. The age
        limit keeps files that a live writer (a long copy) is still filling.
        """
        cutoff = time.time() - older_than_s
        swept = 0
        for entry in os.scandir(self._tmp):
            try:
                if entry.is_file(follow_symlinks=False) and entry.stat().st_mtime < cutoff:
                    os.unlink(entry.path)
                    swept += 1
            except FileNotFoundError:
                continue  # another sweeper or the writer's own cleanup got there first
        return swept

    def exists(self, digest: Digest) -> bool:
        """Whether the object is stored."""
        return self.path_of(digest).is_file()

    def put_bytes(self, data: bytes) -> Digest:
        """Store ``data`` and return its digest; storing the same bytes again is a no-op."""
        digest = digest_bytes(data)
        target = self.path_of(digest)
        if target.is_file():
            return digest
        self._install(target, lambda handle: handle.write(data))
        return digest

    def put_file(self, path: str | os.PathLike[str], *, link: bool = False) -> Digest:
        """Store a file's bytes; ``link=True`` hardlinks when on the same device.

        A copy is read once: hashed and written in the same pass (see
        :mod:`~flywheel_ml.backends.hashing_copy`), so the digest names exactly the bytes
        stored even if the file changes meanwhile.
        """
        if link:
            digest = digest_file(path)
            target = self.path_of(digest)
            if target.is_file():
                return digest
            try:
                target.parent.mkdir(exist_ok=True)
                os.link(path, target)
                # The user's file and the object are now one inode: make it read-only so an
                # edit in place fails loudly instead of silently changing a stored object.
                target.chmod(0o444)
                return digest
            except OSError:
                pass  # another device or a filesystem without hardlinks: copy instead
        tmp = self._tmp / new_id()
        try:
            fd = open_for_copy(tmp)
            try:
                digest = copy_and_hash(path, fd)
                os.fsync(fd)
            finally:
                os.close(fd)
            target = self.path_of(digest)
            if target.is_file():
                tmp.unlink()
                return digest
            tmp.chmod(0o444)
            target.parent.mkdir(exist_ok=True)
            os.replace(tmp, target)
        except BaseException as exc:
            tmp.unlink(missing_ok=True)
            if isinstance(exc, OSError):
                raise_if_full(exc, self.root)
            raise
        return digest

    def get_bytes(self, digest: Digest) -> bytes:
        """The bytes stored under ``digest``.

        Raises:
            NotFoundError: nothing is stored under ``digest``.
        """
        try:
            return self.path_of(digest).read_bytes()
        except FileNotFoundError:
            raise _missing(digest) from None

    def open(self, digest: Digest) -> BinaryIO:
        """A binary reader of the object's bytes."""
        try:
            return self.path_of(digest).open("rb")
        except FileNotFoundError:
            raise _missing(digest) from None

    def size(self, digest: Digest) -> int:
        """The object's size in bytes."""
        try:
            return self.path_of(digest).stat().st_size
        except FileNotFoundError:
            raise _missing(digest) from None

    def iter_digests(self) -> Iterator[Digest]:
        """Every stored digest."""
        for bucket in sorted(self.root.iterdir()):
            if len(bucket.name) != 2 or not bucket.is_dir():
                continue
            for entry in bucket.iterdir():
                if len(entry.name) == 62:
                    yield Digest(f"blake3:{bucket.name}{entry.name}")

    def check(self, digest: Digest) -> bool:
        """Whether the stored bytes still hash to ``digest``."""
        return digest_file(self.path_of(digest)) == digest

    def _install(self, target: Path, write: Callable[[BinaryIO], Any]) -> None:
        tmp = self._tmp / new_id()
        try:
            with tmp.open("wb") as handle:
                write(handle)
                handle.flush()
                os.fsync(handle.fileno())
            tmp.chmod(0o444)  # objects are immutable; a stray write fails instead of corrupting
            target.parent.mkdir(exist_ok=True)
            os.replace(tmp, target)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise_if_full(exc, self.root)
            raise


class FsspecObjectStore:
    """Objects under an fsspec URL (``s3://bucket/prefix``, ``memory://``, ``gs://`` ...).

    An upload goes to a temporary key and is then moved into place, so no reader ever sees part
    of an object; every download is re-hashed. Failures of the remote store (unreachable
    endpoint, refused credentials) become :class:`StoreUnavailableError`.
    """

    def __init__(self, url: str, **storage_options: Any) -> None:
        import fsspec

        self.url = url.rstrip("/")
        self.fs, self._root = fsspec.core.url_to_fs(self.url, **storage_options)

    def _key(self, digest: Digest) -> str:
        hexdigest = hex_of(parse_digest(digest))
        return f"{self._root}/{hexdigest[:2]}/{hexdigest[2:]}"

    @contextlib.contextmanager
    def _remote(self, action: str) -> Iterator[None]:
        try:
            yield
        except (FileNotFoundError, FlywheelError):
            raise
        except Exception as exc:
            first = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
            raise StoreUnavailableError(
                f"cannot {action} the object store {self.url}: {first}",
                hint="check FLYWHEEL_BLOB_URL, the credentials and that the store is reachable; "
                "nothing was recorded",
            ) from exc

    def exists(self, digest: Digest) -> bool:
        """Whether the object is stored."""
        with self._remote("read"):
            return bool(self.fs.exists(self._key(digest)))

    def _upload(self, key: str, send: Callable[[str], None]) -> None:
        tmp = f"{self._root}/tmp/{new_id()}"
        with self._remote("write to"):
            try:
                send(tmp)
                self.fs.mv(tmp, key)
            except BaseException:
                with contextlib.suppress(Exception):
                    self.fs.rm(tmp)
                raise

    def put_bytes(self, data: bytes) -> Digest:
        """Upload ``data`` to a temporary key, then move it into place."""
        digest = digest_bytes(data)
        key = self._key(digest)
        if not self.exists(digest):
            self._upload(key, lambda tmp: self.fs.pipe_file(tmp, data))
        return digest

    def put_file(self, path: str | os.PathLike[str], *, link: bool = False) -> Digest:
        """Upload a file's bytes; ``link`` has no meaning on a remote store."""
        digest = digest_file(path)
        key = self._key(digest)
        if not self.exists(digest):
            self._upload(key, lambda tmp: self.fs.put_file(os.fspath(path), tmp))
        return digest

    def get_bytes(self, digest: Digest) -> bytes:
        """Download and verify the object's bytes."""
        try:
            with self._remote("read"):
                data: bytes = self.fs.cat_file(self._key(digest))
        except FileNotFoundError:
            raise _missing(digest) from None
        if digest_bytes(data) != digest:
            raise IntegrityError(
                f"object {digest} downloaded from {self.url} does not match its digest",
                hint="run `flywheel verify` and restore the object from a backup",
            )
        return data

    def open(self, digest: Digest) -> BinaryIO:
        """A verified in-memory reader of the object's bytes."""
        return io.BytesIO(self.get_bytes(digest))

    def size(self, digest: Digest) -> int:
        """The object's size in bytes."""
        try:
            with self._remote("read"):
                return int(self.fs.size(self._key(digest)))
        except FileNotFoundError:
            raise _missing(digest) from None

    def iter_digests(self) -> Iterator[Digest]:
        """Every stored digest."""
        with self._remote("list"):
            keys = self.fs.find(self._root)
        for key in keys:
            parts = str(key).rsplit("/", 2)
            if len(parts) == 3 and len(parts[1]) == 2 and len(parts[2]) == 62:
                yield Digest(f"blake3:{parts[1]}{parts[2]}")

    def check(self, digest: Digest) -> bool:
        """Whether the stored bytes still hash to ``digest``."""
        with self._remote("read"):
            return digest_bytes(self.fs.cat_file(self._key(digest))) == digest


def open_object_store(url: str) -> LocalObjectStore | FsspecObjectStore:
    """The object store for a folder path or ``file://`` URL, or an fsspec URL."""
    if "://" not in url:
        return LocalObjectStore(url)
    if url.startswith("file://"):
        return LocalObjectStore(url.removeprefix("file://"))
    return FsspecObjectStore(url)


def _copy_fd(src: int, dst: int) -> None:
    # copy_file_range lets the kernel copy (or reflink) without moving bytes through Python.
    try:
        while os.copy_file_range(src, dst, _COPY_CHUNK):
            pass
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
            raise
        os.lseek(src, 0, os.SEEK_SET)
        os.lseek(dst, 0, os.SEEK_SET)
        os.ftruncate(dst, 0)
        with os.fdopen(os.dup(src), "rb") as source, os.fdopen(os.dup(dst), "wb") as dest:
            shutil.copyfileobj(source, dest, 1 << 20)


def raise_if_full(exc: OSError, root: Path) -> None:
    """Raise :class:`StorageFullError` when ``exc`` is a full disk or quota."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        raise StorageFullError(
            f"no space left in the object store at {root}",
            hint="free disk space or point FLYWHEEL_BLOB_URL at a larger store; "
            "nothing was recorded",
        ) from exc


def _missing(digest: Digest) -> NotFoundError:
    return NotFoundError(
        f"object {digest} is not in the object store",
        hint="run `flywheel verify`; the workspace may have been copied without .flywheel/objects",
    )
