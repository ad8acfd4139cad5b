"""The git commit and uncommitted diff of a working folder, asked of git only when it may differ.

Running ``git rev-parse`` and ``git diff HEAD`` costs ~15 ms, too much for every run of a process
that starts thousands. A :class:`GitWatch` asks git once, then watches what the answer depends on
(see :mod:`flywheel_ml.track.path_watch`): every tracked file (and the folders leading to it),
``HEAD``, the index, the current branch's ref and ``packed-refs``; outside a repository, the
working folder and its parents for a new ``.git``. The watch is set up before git is asked, so a
change made while git runs is seen by the next call. A run started after a tracked file was
edited, staged or committed therefore records the new commit and diff.
"""

from __future__ import annotations

import os
import subprocess
import threading
from dataclasses import dataclass

from flywheel_ml.core.digests import digest_bytes
from flywheel_ml.track.path_watch import PathWatch

_GIT_TIMEOUT_S = 10


@dataclass(frozen=True, slots=True)
class GitState:
    """``HEAD`` (empty outside git or before the first commit), ``git diff HEAD --binary`` and
    the diff's digest (empty when the tree is clean)."""

    commit: str = ""
    diff: bytes = b""
    diff_digest: str = ""


class GitWatch:
    """The git state of one working folder, refreshed when a watched file changes.

    Args:
        cwd: the absolute working folder git is asked about.
    """

    def __init__(self, cwd: str) -> None:
        self._cwd = cwd
        self._lock = threading.Lock()
        self._state: GitState | None = None
        self._watch: PathWatch | None = None
        self.refreshes = 0
        """How many times git was asked (for tests and benchmarks)."""

    def state(self) -> GitState:
        """The current commit and diff (asks git only when something watched changed)."""
        with self._lock:
            watch, state = self._watch, self._state
            if state is not None and (watch is None or not watch.changed()):
                return state
            if watch is not None:
                watch.close()
            self.refreshes += 1
            self._state, self._watch = self._ask_git()
            return self._state

    def _ask_git(self) -> tuple[GitState, PathWatch | None]:
        env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"}
        try:
            layout = _git(
                ["rev-parse", "--show-toplevel", "--absolute-git-dir", "--git-common-dir"],
                self._cwd,
                env,
            )
            if layout is None:
                return GitState(), PathWatch(_outside_repository(self._cwd))
            top, git_dir, common = (
                os.path.join(self._cwd, line) for line in layout.decode().splitlines()[:3]
            )
            tracked = _git(["ls-files", "-z", "--full-name"], top, env) or b""
            watch = PathWatch(_repository_entries(top, git_dir, common, tracked))
            head = _git(["rev-parse", "-q", "--verify", "HEAD"], self._cwd, env)
            if head is None:
                return GitState(), watch  # no commit yet: the first one is watched for
            diff = _git(["diff", "HEAD", "--binary"], self._cwd, env) or b""
        except (OSError, subprocess.TimeoutExpired, ValueError):
            # No git installed, or a repository too slow to answer: recorded without it, and
            # not asked again by this process.
            return GitState(), None
        digest = digest_bytes(diff) if diff else ""
        return GitState(head.decode().strip(), diff, digest), watch


def _git(args: list[str], cwd: str, env: dict[str, str]) -> bytes | None:
    done = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, env=env, timeout=_GIT_TIMEOUT_S, check=False
    )
    return done.stdout if done.returncode == 0 else None


def _repository_entries(
    top: str, git_dir: str, common: str, tracked: bytes
) -> dict[str, frozenset[str]]:
    entries: dict[str, set[str]] = {}

    def add(folder: str, name: str) -> None:
        entries.setdefault(os.path.normpath(folder), set()).add(name)

    add(git_dir, "HEAD")
    add(git_dir, "index")
    add(common, "packed-refs")
    try:
        with open(os.path.join(git_dir, "HEAD"), encoding="utf-8") as handle:
            head = handle.read().strip()
    except OSError:
        head = ""
    if head.startswith("ref: "):
        ref = os.path.join(common, *head[5:].split("/"))
        add(os.path.dirname(ref), os.path.basename(ref))
    for path in os.fsdecode(tracked).split("\0"):
        parts = path.split("/") if path else []
        folder = top
        for part in parts:
            add(folder, part)  # each folder on the way: renaming one moves the file
            folder = os.path.join(folder, part)
    return {folder: frozenset(names) for folder, names in entries.items()}


def _outside_repository(cwd: str) -> dict[str, frozenset[str]]:
    # `git init` or a clone here or in a parent makes this folder part of a repository.
    entries: dict[str, frozenset[str]] = {}
    folder, child = os.path.normpath(cwd), ""
    while True:
        entries[folder] = frozenset({".git", child} - {""})
        parent = os.path.dirname(folder)
        if parent == folder:
            return entries
        folder, child = parent, os.path.basename(folder)
