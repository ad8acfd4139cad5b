"""Lineage facts of the running process, computed once per process and reused by every run.

Listing installed distributions and asking git for the commit and the diff take tens of
milliseconds; a process that starts 1,000 runs pays for them once (the cache is keyed by the
working folder, since git answers for the folder).
"""

from __future__ import annotations

import functools
import os
import platform
import socket
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from flywheel_ml.core.digests import digest_bytes
from flywheel_ml.core.identity import current_actor
from flywheel_ml.track.entities import Lineage

_GIT_TIMEOUT_S = 10


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


def process_facts(cwd: str | None = None) -> ProcessFacts:
    """The lineage of this process for the working folder ``cwd`` (default: the current one)."""
    return _facts_for(os.path.abspath(cwd or os.getcwd()))


@functools.cache
def _facts_for(cwd: str) -> ProcessFacts:
    commit, diff = _git_state(cwd)
    packages = installed_packages()
    lineage = Lineage(
        git_commit=commit,
        git_dirty=bool(diff),
        diff_digest=digest_bytes(diff) if diff else "",
        python=platform.python_version(),
        packages_digest=digest_bytes(packages),
        host=socket.gethostname(),
        user=current_actor(),
        command=tuple(sys.argv),
        cwd=cwd,
    )
    return ProcessFacts(lineage=lineage, diff=diff, packages=packages)


def installed_packages() -> bytes:
    """``name==version`` of every installed distribution, sorted, one per line."""
    lines = set()
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            lines.add(f"{name.lower().replace('_', '-')}=={dist.version}")
    return ("\n".join(sorted(lines)) + "\n").encode()


def _git_state(cwd: str) -> tuple[str, bytes]:
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"}
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=cwd,
            capture_output=True,
            env=env,
            timeout=_GIT_TIMEOUT_S,
            check=False,
        )
        if head.returncode != 0:
            return "", b""
        diff = subprocess.run(
            ["git", "diff", "HEAD", "--binary"],
            cwd=cwd,
            capture_output=True,
            env=env,
            timeout=_GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        # No git installed, or a repository too slow to answer: the run is recorded without it.
        return "", b""
    return head.stdout.decode().strip(), diff.stdout if diff.returncode == 0 else b""


def process_identity(pid: int | None = None) -> str:
    """``pid:start`` where start is the process's start time in clock ticks since boot.

    The start time tells a live process from a later one that reused the pid.
    """
    pid = os.getpid() if pid is None else pid
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
