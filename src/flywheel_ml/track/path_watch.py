"""Tell cheaply whether any of a set of files may have changed since a moment.

Lineage records the uncommitted git diff of every run, but asking git costs ~15 ms and a
process may start a thousand runs. A :class:`PathWatch` names the files that matter (tracked
files, ``.git/HEAD``, the index, the branch ref) and answers :meth:`PathWatch.changed` in about a
microsecond: on Linux from an inotify queue (the kernel queues an event when a watched file is
written, renamed, deleted or chmod-ed, so nothing done after the watch was set up can be missed);
elsewhere, or when inotify is unavailable, by comparing every file's ``lstat`` change time.

A watch answers for the process that made it: a forked child must make its own (it would share
the parent's inotify queue).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import struct
import sys
import time
from collections.abc import Mapping
from stat import S_ISDIR

# inotify(7) event bits: content written, metadata (chmod/utime), renames in and out, created,
# deleted, and the watched folder itself deleted or moved; overflow and ignored are always sent.
_IN_MODIFY = 0x2
_IN_ATTRIB = 0x4
_IN_MOVED_FROM = 0x40
_IN_MOVED_TO = 0x80
_IN_CREATE = 0x100
_IN_DELETE = 0x200
_IN_DELETE_SELF = 0x400
_IN_MOVE_SELF = 0x800
_IN_Q_OVERFLOW = 0x4000
_IN_IGNORED = 0x8000
_IN_ONLYDIR = 0x01000000
_MASK = (
    _IN_MODIFY
    | _IN_ATTRIB
    | _IN_MOVED_FROM
    | _IN_MOVED_TO
    | _IN_CREATE
    | _IN_DELETE
    | _IN_DELETE_SELF
    | _IN_MOVE_SELF
    | _IN_ONLYDIR
)
# Events about the watched folder itself, or lost events: always a change.
_ALARM = _IN_DELETE_SELF | _IN_MOVE_SELF | _IN_Q_OVERFLOW | _IN_IGNORED
_HEADER = struct.Struct("iIII")
_READ_SIZE = 1 << 16


class PathWatch:
    """Watches named entries of folders: ``{folder: {entry names}}``.

    Args:
        entries: absolute folder paths and, for each, the names in it whose change counts.
            A name may be a file or a sub-folder (a sub-folder counts when it is created,
            deleted, renamed or chmod-ed, not when something inside it changes).

    :meth:`changed` is true once anything named changed after the watch was made (and stays
    true); it may also be true for a change that restored the same content.
    """

    def __init__(self, entries: Mapping[str, frozenset[str]]) -> None:
        self._pid = os.getpid()
        self._entries = {folder: frozenset(names) for folder, names in entries.items()}
        self._fd = -1
        self._names: dict[int, frozenset[str]] = {}
        self._stamps: list[int] | None = None
        self._racy = False
        self._changed = False
        if not self._start_inotify():
            self._stamps, self._racy = _stat_snapshot(self._entries)

    @property
    def uses_inotify(self) -> bool:
        """Whether changes come from the kernel (else from comparing ``lstat`` times)."""
        return self._fd >= 0

    def changed(self) -> bool:
        """Whether anything watched may have changed since the watch was made."""
        if self._changed:
            return True
        if os.getpid() != self._pid:
            self._changed = True
        elif self._fd >= 0:
            self._changed = self._drain()
        else:
            stamps, _ = _stat_snapshot(self._entries)
            self._changed = self._racy or stamps != self._stamps
        return self._changed

    def close(self) -> None:
        """Release the inotify queue (idempotent)."""
        if self._fd >= 0 and os.getpid() == self._pid:
            with contextlib.suppress(OSError):
                os.close(self._fd)
        self._fd = -1

    def __del__(self) -> None:
        self.close()

    def _start_inotify(self) -> bool:
        libc = _libc()
        if libc is None:
            return False
        fd = int(libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC))
        if fd < 0:
            return False  # out of inotify instances: compare stat times instead
        names: dict[int, frozenset[str]] = {}
        for folder, wanted in self._entries.items():
            wd = int(libc.inotify_add_watch(fd, os.fsencode(folder), _MASK))
            if wd < 0:
                if ctypes.get_errno() in (2, 20):  # ENOENT, ENOTDIR: the folder is gone
                    self._changed = True
                    continue
                os.close(fd)  # out of watches: compare stat times instead
                return False
            names[wd] = names.get(wd, frozenset()) | wanted
        self._fd, self._names = fd, names
        return True

    def _drain(self) -> bool:
        # Read every queued event; any one about a watched name (or a lost event) is a change.
        hit = False
        while True:
            try:
                data = os.read(self._fd, _READ_SIZE)
            except BlockingIOError:
                return hit
            except OSError:
                return True
            if not hit:
                hit = self._any_watched(data)

    def _any_watched(self, data: bytes) -> bool:
        offset, size = 0, _HEADER.size
        while offset + size <= len(data):
            wd, mask, _cookie, length = _HEADER.unpack_from(data, offset)
            raw = data[offset + size : offset + size + length]
            offset += size + length
            if mask & _ALARM:
                return True
            name = os.fsdecode(raw.split(b"\0", 1)[0])
            if name in self._names.get(wd, ()):
                return True
        return False


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.inotify_init1.argtypes = [ctypes.c_int]
        libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
    except (OSError, AttributeError):
        return None
    return libc


def _stat_snapshot(entries: Mapping[str, frozenset[str]]) -> tuple[list[int], bool]:
    """Change times (ns; -1 for a missing entry) in a fixed order, and whether any is so recent
    that a later change could carry the same time (then the snapshot cannot be trusted)."""
    started = time.time_ns()
    stamps: list[int] = []
    for folder in sorted(entries):
        for name in sorted(entries[folder]):
            try:
                stat = os.lstat(os.path.join(folder, name))
            except OSError:
                stamps.append(-1)
                continue
            # A folder's time moves whenever anything inside it is created: only its existence
            # counts (the files that matter in it are entries of their own).
            stamps.append(0 if S_ISDIR(stat.st_mode) else stat.st_ctime_ns)
    # File times come from a coarse clock (a tick on Linux, whole seconds on some file systems):
    # a change within that margin of the snapshot may leave the time unchanged.
    coarse = all(s % 1_000_000_000 == 0 for s in stamps if s > 0)
    margin = 2_000_000_000 if coarse else 100_000_000
    return stamps, any(s >= started - margin for s in stamps)
