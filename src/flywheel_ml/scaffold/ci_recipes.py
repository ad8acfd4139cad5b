"""``flywheel ci install``: the git ``pre-push`` hook and the CI recipes that train on push.

Three files, each marked ``flywheel-ci`` in its first lines:

* the repository's ``pre-push`` hook (in ``core.hooksPath`` when set, else ``.git/hooks``): for
  every pushed ``refs/heads/train/*`` ref it runs ``flywheel ci run BRANCH --commit SHA``;
* ``.github/workflows/flywheel-train.yml`` (GitHub Actions) and ``.gitlab-ci.yml`` (GitLab CI):
  on a push of ``train/**`` they run ``flywheel ci run BRANCH``.

Installing again rewrites only Flywheel's own files that changed; a file without the marker
belongs to the user and is kept as it is (and reported), never overwritten.
"""

from __future__ import annotations

import os
import stat
import subprocess
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from flywheel_ml.errors import InvalidInputError

MARKER = "flywheel-ci"
_RECIPES = {
    ".github/workflows/flywheel-train.yml": "flywheel-train.yml",
    ".gitlab-ci.yml": "gitlab-ci.yml",
}


@dataclass(frozen=True, slots=True)
class CiInstallReport:
    """What :func:`install_ci` did (paths relative to the repository root, the hook's absolute).

    Attributes:
        repo: the repository's top folder.
        written: files created or updated.
        unchanged: Flywheel's files that were already up to date.
        kept: files of the user's (no ``flywheel-ci`` marker), left as they were.
    """

    repo: str
    written: tuple[str, ...]
    unchanged: tuple[str, ...]
    kept: tuple[str, ...]


def git(*args: str, cwd: Path) -> str:
    """``git ARGS`` in ``cwd``: its stripped stdout.

    Raises:
        InvalidInputError: git is missing or the command failed (the message quotes git).
    """
    try:
        done = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InvalidInputError(f"cannot run git: {exc}", hint="install git") from exc
    if done.returncode != 0:
        raise InvalidInputError(
            f"git {' '.join(args[:2])} failed in {cwd}: {done.stderr.strip()[:300]}",
            hint="run this inside a git repository (`git init` first)",
        )
    return done.stdout.strip()


def hooks_folder(repo: Path) -> Path:
    """Where git looks for hooks: ``core.hooksPath`` when set, else ``<git dir>/hooks``."""
    try:
        configured = git("config", "--get", "core.hooksPath", cwd=repo)
    except InvalidInputError:  # unset: git config exits 1
        configured = ""
    if configured:
        return (repo / os.path.expanduser(configured)).resolve()
    return (repo / git("rev-parse", "--git-path", "hooks", cwd=repo)).resolve()


def install_ci(start: Path, *, flywheel: str) -> CiInstallReport:
    """Write the hook and recipes into the git repository holding ``start``.

    Args:
        start: a folder inside the repository.
        flywheel: the ``flywheel`` executable the hook calls (``flywheel`` on PATH when it is
            gone later).

    Raises:
        InvalidInputError: ``start`` is not inside a git repository.
    """
    repo = Path(git("rev-parse", "--show-toplevel", cwd=start))
    base = resources.files("flywheel_ml.scaffold").joinpath("templates", "ci")
    wanted = {
        repo / relative: base.joinpath(name).read_text(encoding="utf-8")
        for relative, name in _RECIPES.items()
    }
    hook = hooks_folder(repo) / "pre-push"
    wanted[hook] = (
        base.joinpath("pre-push").read_text(encoding="utf-8").replace("@FLYWHEEL@", flywheel)
    )
    written: list[str] = []
    unchanged: list[str] = []
    kept: list[str] = []
    for path, text in wanted.items():
        shown = str(path.relative_to(repo)) if path.is_relative_to(repo) else str(path)
        if path.exists():
            current = path.read_text(encoding="utf-8", errors="replace")
            if MARKER not in "\n".join(current.splitlines()[:3]):
                kept.append(shown)
                continue
            if current == text:
                unchanged.append(shown)
                continue
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        if path == hook:
            tmp.chmod(tmp.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        tmp.replace(path)
        written.append(shown)
    return CiInstallReport(str(repo), tuple(written), tuple(unchanged), tuple(kept))
