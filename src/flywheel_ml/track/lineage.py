"""Lineage facts of the running process, computed once per process and reused by every run.

Listing installed distributions takes tens of milliseconds and asking git for the commit and
the diff ~15 ms; a process that starts 1,000 runs pays for the package list once, and asks git
again only when a tracked file, the index or ``HEAD`` changed (see
:mod:`flywheel_ml.track.git_state`), so every run still records the code as it was when it
started. The cache is keyed by the working folder, since git answers for the folder.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import platform
import re
import socket
import sys
import threading
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from flywheel_ml.core.digests import Digest, digest_bytes
from flywheel_ml.core.identity import current_actor
from flywheel_ml.track.entities import Lineage
from flywheel_ml.track.git_state import GitState, GitWatch


@dataclass(frozen=True, slots=True)
class ProcessFacts:
    """The lineage of this process, and the two texts whose digests it names.

    Attributes:
        lineage: the facts (no seed; the command is this process's ``sys.argv``).
        diff: ``git diff HEAD`` bytes (empty when clean or outside git).
        packages: the sorted ``name==version`` lines of installed distributions.
    """

    lineage: Lineage
    diff: bytes
    packages: bytes


@dataclass(frozen=True, slots=True)
class _Static:
    python: str
    host: str
    packages: bytes
    packages_digest: Digest


_LOCK = threading.Lock()
_WATCHES: dict[tuple[int, str], GitWatch] = {}
_LAST: dict[str, tuple[GitState, str, tuple[str, ...], ProcessFacts]] = {}
_IDENTITY: dict[int, str] = {}


def process_facts(cwd: str | None = None) -> ProcessFacts:
    """The lineage of this process for the working folder ``cwd`` (default: the current one).

    Git is asked again only when something it answers from changed since it was last asked.
    """
    folder = os.path.abspath(cwd or os.getcwd())
    git = git_watch(folder).state()
    user = current_actor()
    command = tuple(sys.argv)
    last = _LAST.get(folder)
    if last is not None and last[0] is git and last[1] == user and last[2] == command:
        return last[3]
    static = _static_facts()
    facts = ProcessFacts(
        lineage=Lineage(
            git_commit=git.commit,
            git_dirty=bool(git.diff),
            diff_digest=git.diff_digest,
            python=static.python,
            packages_digest=static.packages_digest,
            host=static.host,
            user=user,
            command=command,
            cwd=folder,
        ),
        diff=git.diff,
        packages=static.packages,
    )
    _LAST[folder] = (git, user, command, facts)
    return facts


def with_run_facts(
    lineage: Lineage, *, seed: int | None, command: tuple[str, ...] | None
) -> Lineage:
    """``lineage`` with a run's own seed and command line (itself when neither differs)."""
    if seed == lineage.seed and (command is None or command == lineage.command):
        return lineage
    return dataclasses.replace(
        lineage, seed=seed, command=lineage.command if command is None else command
    )


def git_watch(folder: str) -> GitWatch:
    """This process's :class:`GitWatch` of ``folder`` (an absolute path)."""
    key = (os.getpid(), folder)
    watch = _WATCHES.get(key)
    if watch is None:
        with _LOCK:
            watch = _WATCHES.setdefault(key, GitWatch(folder))
    return watch


@functools.cache
def _static_facts() -> _Static:
    packages = installed_packages()
    return _Static(
        python=platform.python_version(),
        host=socket.gethostname(),
        packages=packages,
        packages_digest=digest_bytes(packages),
    )


def installed_packages() -> bytes:
    """``name==version`` of every installed distribution (names normalised as PEP 503 does),
    sorted, one per line.

    A wheel-installed distribution is read from its ``NAME-VERSION.dist-info`` folder name,
    which the wheel format fixes: parsing every METADATA file instead took ~0.8 s in a venv of
    300 packages, paid by the first run of every process. Anything else (``.egg-info``, a
    folder name that does not parse) is read from its metadata.
    """
    lines: set[str] = set()
    for folder in dict.fromkeys(p or "." for p in sys.path):
        try:
            names = os.listdir(folder)
        except OSError:  # a zip, a missing folder
            continue
        for entry in names:
            found = _from_folder_name(entry)
            if found is not None:
                lines.add(found)
            elif entry.endswith((".dist-info", ".egg-info")):
                lines.update(_from_metadata(os.path.join(folder, entry)))
    return ("\n".join(sorted(lines)) + "\n").encode()


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _from_folder_name(entry: str) -> str | None:
    if not entry.endswith(".dist-info"):
        return None
    name, dash, version = entry[: -len(".dist-info")].partition("-")
    if not dash or not name or not version or "-" in version:
        return None
    return f"{_normal(name)}=={version}"


def _from_metadata(path: str) -> list[str]:
    dist = metadata.PathDistribution(Path(path))
    name = dist.metadata["Name"]
    return [f"{_normal(name)}=={dist.version}"] if name else []


def process_identity(pid: int | None = None) -> str:
    """``pid:start`` where start is the process's start time in clock ticks since boot.

    The start time tells a live process from a later one that reused the pid.
    """
    if pid is None:
        pid = os.getpid()
        mine = _IDENTITY.get(pid)  # keyed by pid: a forked child gets its own
        if mine is None:
            mine = _IDENTITY[pid] = f"{pid}:{_start_ticks(pid) or 0}"
        return mine
    return f"{pid}:{_start_ticks(pid) or 0}"


def process_alive(identity: str) -> bool:
    """Whether the process named by :func:`process_identity` still runs on this host.

    A zombie (exited, not yet reaped) counts as dead.
    """
    pid_text, _, start_text = identity.partition(":")
    if not pid_text.isdigit():
        return False
    pid = int(pid_text)
    stat = _stat_fields(pid)
    if stat is None:
        return False if Path("/proc/self/stat").exists() else _signal_alive(pid)
    state, start = stat
    if state in ("Z", "X"):
        return False
    return start_text in ("", "0") or start_text == start


def _signal_alive(pid: int) -> bool:
    # Without /proc (macOS): signal 0 tells whether the pid exists.
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _start_ticks(pid: int) -> str | None:
    stat = _stat_fields(pid)
    return None if stat is None else stat[1]


def _stat_fields(pid: int) -> tuple[str, str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ')'.
    fields = text[text.rfind(")") + 2 :].split()
    return (fields[0], fields[19]) if len(fields) > 19 else None


def this_host() -> str:
    """The machine's name, as recorded in a run's lineage."""
    return socket.gethostname()
