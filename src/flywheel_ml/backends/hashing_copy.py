"""Copy a big file and hash it in one pass: the digest is of exactly the bytes written.

Hashing first and copying after reads the file twice and lets a file that changes in between be
stored under the digest of other bytes. Here each chunk is read once into a page-aligned buffer;
one thread hashes it (BLAKE3 releases the GIL) while another writes it, and the next chunk is read
meanwhile. The copy is written with ``O_DIRECT`` where the filesystem allows: the bytes go to the
disk as they are written instead of piling up as dirty pages that the final ``fsync`` (which the
caller still does) would have to flush at once, the slow and erratic part of a buffered copy.
"""

from __future__ import annotations

import mmap
import os
from concurrent.futures import Future, ThreadPoolExecutor

import blake3

from flywheel_ml.core.digests import PREFIX, Digest

_CHUNK = 32 << 20
_BUFFERS = 3  # one being read, one being hashed and written, one spare
_ALIGN = 4096  # O_DIRECT needs block-aligned lengths; 4 KiB suits every common device


def copy_and_hash(source: str | os.PathLike[str], dest_fd: int) -> Digest:
    """Copy ``source`` into the empty file open at ``dest_fd`` and return the copy's digest.

    ``dest_fd`` may be opened with ``O_DIRECT`` (see :func:`open_for_copy`); the caller fsyncs.

    Raises:
        OSError: reading or writing failed (e.g. ``ENOSPC``).
    """
    direct = bool(getattr(os, "O_DIRECT", 0) & _fd_flags(dest_fd))
    hasher = blake3.blake3()
    buffers = [mmap.mmap(-1, _CHUNK) for _ in range(_BUFFERS)]
    pending: list[list[Future[object]]] = [[] for _ in range(_BUFFERS)]
    src = os.open(source, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    # One worker each, so chunks are hashed and written in order.
    with ThreadPoolExecutor(1) as hashing, ThreadPoolExecutor(1) as writing:
        try:
            offset = 0
            slot = 0
            while True:
                for done in pending[slot]:
                    done.result()  # the buffer is free again (and errors surface here)
                buffer = buffers[slot]
                length = os.preadv(src, [buffer], offset)
                if length == 0:
                    break
                view = memoryview(buffer)[:length]
                written = length
                if direct and length % _ALIGN:
                    # The last chunk: pad to a whole block; the file is truncated back below.
                    written = length + _ALIGN - length % _ALIGN
                    buffer[length:written] = bytes(written - length)
                pending[slot] = [
                    hashing.submit(hasher.update, view),
                    writing.submit(_write_at, dest_fd, memoryview(buffer)[:written], offset),
                ]
                offset += length
                slot = (slot + 1) % _BUFFERS
            for futures in pending:
                for done in futures:
                    done.result()
            if direct:
                os.ftruncate(dest_fd, offset)
        finally:
            os.close(src)
            for futures in pending:
                for done in futures:
                    done.cancel()
    return Digest(PREFIX + hasher.hexdigest())


def open_for_copy(path: str | os.PathLike[str]) -> int:
    """Create ``path`` for writing, switched to ``O_DIRECT`` when the filesystem supports it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o644)
    go_direct(fd)
    return fd


def go_direct(fd: int) -> None:
    """Switch the open file ``fd`` to ``O_DIRECT`` writes where the filesystem supports them."""
    direct = getattr(os, "O_DIRECT", 0)
    if direct:
        import contextlib
        import fcntl

        # A filesystem without O_DIRECT (some network ones) refuses it: buffered writes then.
        with contextlib.suppress(OSError):
            fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | direct)


def _write_at(fd: int, view: memoryview, offset: int) -> None:
    while view:
        count = os.pwrite(fd, view, offset)
        view, offset = view[count:], offset + count


def _fd_flags(fd: int) -> int:
    import fcntl

    return fcntl.fcntl(fd, fcntl.F_GETFL)
