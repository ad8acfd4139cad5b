"""Lineage is cached per process, yet every run records the git state as it was at its start."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import flywheel_ml as fw
from flywheel_ml.track import path_watch
from flywheel_ml.track.lineage import git_watch, process_identity
from flywheel_ml.track.path_watch import PathWatch

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def _git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.org",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.org",
        "GIT_CONFIG_NOSYSTEM": "1",
        "HOME": str(repo.parent),
    }
    done = subprocess.run(
        ["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


@pytest.fixture(params=["inotify", "stat"])
def watch_mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways a change is noticed: the kernel's queue, and comparing stat times."""
    if request.param == "stat":
        monkeypatch.setattr(path_watch, "_libc", lambda: None)
    return str(request.param)


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A committed repository with a file in a sub-folder, as the working folder."""
    root = tmp_path / "project"
    (root / "src").mkdir(parents=True)
    (root / "src" / "train.py").write_text("lr = 0.1\n")
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", ".")
    _git(root, "commit", "-q", "-m", "first")
    monkeypatch.chdir(root)
    yield root


def _lineage_of(ws: Any) -> Any:
    with ws.track.start_run("r") as run:
        pass
    return ws.track.get_run(run.id)


def _diff_text(ws: Any, run_id: str) -> str:
    artifact = ws.track.artifact(run_id, "lineage/git.diff")
    return bytes(ws.objects.get_bytes(artifact.digest)).decode()


def test_each_run_records_the_git_state_at_its_start(
    repo: Path, tmp_path: Path, watch_mode: str
) -> None:
    ws = fw.init_workspace(tmp_path / "ws", name="t")
    first_commit = _git(repo, "rev-parse", "HEAD")
    clean = _lineage_of(ws)
    assert clean.lineage.git_commit == first_commit
    assert not clean.lineage.git_dirty and clean.lineage.diff_digest == ""

    (repo / "src" / "train.py").write_text("lr = 0.2\n")
    edited = _lineage_of(ws)
    assert edited.lineage.git_dirty and "+lr = 0.2" in _diff_text(ws, edited.id)

    # Same size, right away: only the content differs.
    (repo / "src" / "train.py").write_text("lr = 0.3\n")
    again = _lineage_of(ws)
    assert again.lineage.diff_digest != edited.lineage.diff_digest
    assert "+lr = 0.3" in _diff_text(ws, again.id)

    _git(repo, "commit", "-q", "-am", "second")
    committed = _lineage_of(ws)
    assert committed.lineage.git_commit == _git(repo, "rev-parse", "HEAD") != first_commit
    assert not committed.lineage.git_dirty

    (repo / "notes.txt").write_text("new\n")
    untracked = _lineage_of(ws)
    assert not untracked.lineage.git_dirty  # git diff HEAD ignores untracked files
    _git(repo, "add", "notes.txt")
    staged = _lineage_of(ws)
    assert staged.lineage.git_dirty and "+new" in _diff_text(ws, staged.id)

    (repo / "src" / "train.py").chmod(0o755)
    chmodded = _lineage_of(ws)
    assert chmodded.lineage.diff_digest != staged.lineage.diff_digest
    ws.close()


def test_git_is_not_asked_again_while_nothing_changes(repo: Path, tmp_path: Path) -> None:
    probe = PathWatch({})
    if not probe.uses_inotify:
        pytest.skip("needs inotify (with stat times, a just-written file is asked about again)")
    probe.close()
    ws = fw.init_workspace(tmp_path / "ws", name="t")
    watch = git_watch(os.path.abspath(os.getcwd()))
    _lineage_of(ws)
    asked = watch.refreshes
    for _ in range(5):
        _lineage_of(ws)
    (repo / "scratch.log").write_text("untracked output\n")  # not tracked: no new question
    _lineage_of(ws)
    assert watch.refreshes == asked
    (repo / "src" / "train.py").write_text("lr = 0.5\n")
    _lineage_of(ws)
    assert watch.refreshes == asked + 1
    ws.close()


def test_a_folder_that_becomes_a_repository_is_noticed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, watch_mode: str
) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    monkeypatch.chdir(folder)
    ws = fw.init_workspace(tmp_path / "ws", name="t")
    assert _lineage_of(ws).lineage.git_commit == ""
    (folder / "a.py").write_text("x = 1\n")
    _git(folder, "init", "-q", "-b", "main")
    _git(folder, "add", ".")
    _git(folder, "commit", "-q", "-m", "first")
    assert _lineage_of(ws).lineage.git_commit == _git(folder, "rev-parse", "HEAD")
    ws.close()


def test_path_watch_counts_only_named_entries(tmp_path: Path, watch_mode: str) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.py").write_text("a")
    (tmp_path / "sub" / "b.py").write_text("b")

    if watch_mode == "stat":
        time.sleep(0.2)  # older than the margin within which stat times are not trusted
    quiet = PathWatch(
        {str(tmp_path): frozenset({"a.py", "sub"}), str(tmp_path / "sub"): frozenset({"b.py"})}
    )
    if watch_mode == "stat" and quiet.changed():
        pytest.skip("this file system's times are too coarse to trust after 0.2 s")
    assert quiet.uses_inotify == (watch_mode == "inotify")
    (tmp_path / "other.txt").write_text("x")
    (tmp_path / "sub" / "cache").mkdir()
    assert not quiet.changed()
    (tmp_path / "sub" / "b.py").write_text("bb")
    assert quiet.changed()
    quiet.close()


def test_process_identity_is_kept_per_process() -> None:
    assert process_identity() == process_identity()
    assert process_identity().startswith(f"{os.getpid()}:")
    assert process_identity(os.getpid()) == process_identity()
