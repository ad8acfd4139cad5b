"""``flywheel ci``: the hook and recipes it installs, and training on push of train/<config>."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from flywheel_ml import open_workspace

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Ann",
    "GIT_AUTHOR_EMAIL": "ann@example.com",
    "GIT_COMMITTER_NAME": "Ann",
    "GIT_COMMITTER_EMAIL": "ann@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
    "HOME": "/nonexistent",  # no user git config leaks into the test
}


def _git(*args: str, cwd: Path) -> str:
    done = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=False,
        env={**os.environ, **GIT_ENV},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture
def project(tmp_path: Path, cli: Any) -> Path:
    """A scaffolded project (table template) in a git repository with one commit on main."""
    assert cli("init", "--template", "classification", "p", cwd=tmp_path).returncode == 0
    root = tmp_path / "p"
    _git("init", "-q", "-b", "main", cwd=root)
    _git("add", "-A", cwd=root)
    _git("commit", "-qm", "scaffold", cwd=root)
    return root


def _runs(root: Path) -> list[Any]:
    with open_workspace(root) as ws:
        return ws.track.list_runs()


def test_install_writes_valid_recipes_and_an_executable_hook_idempotently(
    project: Path, cli: Any
) -> None:
    first = cli("--json", "ci", "install", cwd=project)
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    wanted = [".github/workflows/flywheel-train.yml", ".gitlab-ci.yml", ".git/hooks/pre-push"]
    assert sorted(report["written"]) == sorted(wanted) and report["kept"] == []
    github = yaml.safe_load((project / wanted[0]).read_text())
    # PyYAML reads the bare key `on` as True (YAML 1.1); GitHub reads it as "on".
    assert github[True]["push"]["branches"] == ["train/**"]
    steps = github["jobs"]["train"]["steps"]
    assert any('flywheel ci run "$GITHUB_REF_NAME"' in s.get("run", "") for s in steps)
    gitlab = yaml.safe_load((project / ".gitlab-ci.yml").read_text())["flywheel-train"]
    assert gitlab["rules"] == [{"if": "$CI_COMMIT_BRANCH =~ /^train\\//"}]
    assert 'flywheel ci run "$CI_COMMIT_BRANCH"' in gitlab["script"]
    hook = project / ".git/hooks/pre-push"
    assert hook.stat().st_mode & stat.S_IXUSR and hook.read_text().startswith("#!/bin/sh")
    again = json.loads(cli("--json", "ci", "install", cwd=project).stdout)
    assert again["written"] == [] and sorted(again["unchanged"]) == sorted(wanted)


def test_install_keeps_the_users_own_files_and_honours_core_hooks_path(
    project: Path, cli: Any
) -> None:
    (project / ".gitlab-ci.yml").write_text("test:\n  script: [make]\n")
    _git("config", "core.hooksPath", "githooks", cwd=project)
    report = json.loads(cli("--json", "ci", "install", cwd=project).stdout)
    assert report["kept"] == [".gitlab-ci.yml"]
    assert (project / ".gitlab-ci.yml").read_text() == "test:\n  script: [make]\n"
    assert "githooks/pre-push" in report["written"]
    assert (project / "githooks/pre-push").is_file()


def test_install_outside_git_is_a_clear_error(tmp_path: Path, cli: Any) -> None:
    bad = cli("ci", "install", cwd=tmp_path)
    assert bad.returncode == 2 and "git" in bad.stderr and "Traceback" not in bad.stderr


def test_ci_run_trains_the_branch_config_and_records_the_commit(project: Path, cli: Any) -> None:
    head = _git("rev-parse", "HEAD", cwd=project)
    done = cli("--json", "ci", "run", "train/rf", cwd=project)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["commit"] == head and data["config"] == "configs/rf.yaml"
    assert data["rank"] == 1 and data["ranked"] == 1 and data["ranked_by"] == "val_accuracy (max)"
    assert data["line"].startswith(f"train/rf @ {head[:10]}: run rf (")
    (run,) = _runs(project)
    assert run.id == data["run"]["id"] and run.lineage.git_commit == head
    assert not run.lineage.git_dirty
    assert run.tags["ci.branch"] == "train/rf" and run.tags["ci.commit"] == head
    text = cli("ci", "run", "train/rf", cwd=project)
    assert text.returncode == 0 and " of 2 by val_accuracy (max): " in text.stdout


def test_ci_run_ranks_by_the_project_objective_when_there_is_one(project: Path, cli: Any) -> None:
    assert cli("plan", "set", "--objective", "accuracy max", cwd=project).returncode == 0
    data = json.loads(cli("--json", "ci", "run", "train/rf", cwd=project).stdout)
    assert data["ranked_by"] == "accuracy max" and data["rank"] == 1


@pytest.mark.parametrize(
    ("branch", "message"),
    [("main", "is not named train/<config>"), ("train/", "is not named train/<config>"),
     ("train/svm", "configs/svm.yaml, which does not exist")],
)  # fmt: skip
def test_ci_run_refuses_other_branches_and_missing_configs(
    project: Path, cli: Any, branch: str, message: str
) -> None:
    bad = cli("ci", "run", branch, cwd=project)
    assert bad.returncode == 2 and message in bad.stderr and "Traceback" not in bad.stderr
    assert _runs(project) == []


def test_git_push_of_train_branches_trains_at_the_pushed_commit(
    project: Path, tmp_path: Path, cli: Any
) -> None:
    remote = tmp_path / "remote.git"
    _git("init", "-q", "--bare", str(remote), cwd=tmp_path)
    _git("remote", "add", "origin", str(remote), cwd=project)
    assert cli("ci", "install", cwd=project).returncode == 0
    _git("push", "-q", "origin", "main", cwd=project)
    assert _runs(project) == []  # not a train/ branch: no training
    # A config on its own branch, pushed while main is checked out: trained in a worktree.
    _git("switch", "-q", "-c", "train/shallow", cwd=project)
    config = (project / "configs/rf.yaml").read_text().replace("max_depth: 12", "max_depth: 2")
    (project / "configs/shallow.yaml").write_text(config)
    _git("add", "configs/shallow.yaml", cwd=project)
    _git("commit", "-qm", "shallow forest", cwd=project)
    pushed = _git("rev-parse", "HEAD", cwd=project)
    _git("switch", "-q", "main", cwd=project)
    _git("push", "-q", "origin", "train/shallow", cwd=project)
    (run,) = _runs(project)
    assert run.name == "shallow" and run.lineage.git_commit == pushed
    assert run.tags["ci.branch"] == "train/shallow"
    assert "flywheel-ci" not in _git("worktree", "list", cwd=project)  # the worktree is gone
    # A failed training stops the push.
    _git("switch", "-q", "-c", "train/broken", cwd=project)
    (project / "configs/broken.yaml").write_text("data: tabular@latest\nmodel: nope.Nope\n")
    _git("add", "configs/broken.yaml", cwd=project)
    _git("commit", "-qm", "broken", cwd=project)
    refused = subprocess.run(
        ["git", "push", "origin", "train/broken"], cwd=project, capture_output=True, text=True,
        check=False, env={**os.environ, **GIT_ENV},
    )  # fmt: skip
    assert refused.returncode != 0 and "cannot be imported" in refused.stderr
    assert len(_runs(project)) == 1


def test_hook_reads_refs_as_git_gives_them_and_trains_train_refs_only(
    project: Path, cli: Any
) -> None:
    assert cli("ci", "install", cwd=project).returncode == 0
    head = _git("rev-parse", "HEAD", cwd=project)
    zero = "0" * 40
    lines = (
        f"refs/heads/main {head} refs/heads/main {zero}\n"
        f"refs/heads/rf {head} refs/heads/train/rf {zero}\n"
        f"(delete) {zero} refs/heads/train/old {head}\n"
        f"refs/tags/v1 {head} refs/tags/train/v1 {zero}\n"
    )
    done = subprocess.run(
        [str(project / ".git/hooks/pre-push"), "origin", "/nowhere"], input=lines, cwd=project,
        capture_output=True, text=True, check=False, env={**os.environ, **GIT_ENV},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("train/rf @ ") == 1 and "train/old" not in done.stdout
    (run,) = _runs(project)
    assert run.tags["ci.branch"] == "train/rf" and run.lineage.git_commit == head
    skipped = subprocess.run(
        [str(project / ".git/hooks/pre-push"), "origin", "/nowhere"], input=lines, cwd=project,
        capture_output=True, text=True, check=False,
        env={**os.environ, **GIT_ENV, "FLYWHEEL_SKIP_TRAIN": "1"},
    )  # fmt: skip
    assert skipped.returncode == 0 and len(_runs(project)) == 1
    missing = subprocess.run(
        [str(project / ".git/hooks/pre-push"), "origin", "/nowhere"], input=lines, cwd=project,
        capture_output=True, text=True, check=False,
        env={**GIT_ENV, "PATH": "/usr/bin:/bin", "FLYWHEEL": "/nowhere/flywheel"},
    )  # fmt: skip
    assert missing.returncode == 1 and "no flywheel command to train train/rf" in missing.stderr
