"""``flywheel ci run train/<config>``: what the CI job and the pre-push hook run.

The branch names the config (``train/rf`` -> ``configs/rf.yaml``). The run is trained at the
pushed commit: in place when that commit is the checkout's ``HEAD``, else in a temporary
``git worktree`` of it, so the run's lineage (git commit, diff digest) is the pushed commit's.
The run is tagged with the branch and the commit, and placed on the leaderboard: by the project
objective when the project page has one, else by the config's validation metric.
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from flywheel_ml.errors import InvalidInputError, NotFoundError
from flywheel_ml.scaffold.ci_recipes import git

if TYPE_CHECKING:
    from flywheel_ml.track.entities import Run
    from flywheel_ml.workspace import Workspace

BRANCH_PREFIX = "train/"


@dataclass(frozen=True, slots=True)
class CiRun:
    """A training done for a pushed branch.

    Attributes:
        branch: ``train/<config>``.
        config: the config file, relative to the repository root.
        commit: the commit trained (as recorded in the run's lineage).
        run: the run.
        rank: its place on the leaderboard (1 = best), None when it has no ranking value.
        ranked: how many runs the leaderboard ranks.
        ranked_by: what the ranking uses, e.g. ``accuracy max`` or ``val_accuracy (max)``.
        value: the run's ranking value.
        line: the leaderboard line to post.
    """

    branch: str
    config: str
    commit: str
    run: Run
    rank: int | None
    ranked: int
    ranked_by: str
    value: float | None
    line: str


def config_of_branch(branch: str) -> str:
    """``train/<config>`` (or ``refs/heads/train/<config>``) -> ``configs/<config>.yaml``.

    Raises:
        InvalidInputError: the branch is not named ``train/<config>``.
    """
    name = branch.removeprefix("refs/heads/")
    config = name.removeprefix(BRANCH_PREFIX)
    if not name.startswith(BRANCH_PREFIX) or not config or ".." in config:
        raise InvalidInputError(
            f"branch {branch!r} is not named train/<config>",
            hint="push a branch train/NAME to train configs/NAME.yaml, e.g. train/rf",
        )
    return f"configs/{config}.yaml"


def train_branch(ws: Workspace, branch: str, *, start: Path, commit: str | None = None) -> CiRun:
    """Train the branch's config at ``commit`` (default ``HEAD``) and rank the run.

    Args:
        ws: the workspace that keeps the run.
        branch: ``train/<config>``.
        start: a folder inside the git repository holding ``configs/``.
        commit: the pushed commit; a commit other than ``HEAD`` is checked out in a temporary
            worktree for the training.

    Raises:
        InvalidInputError: a branch not named ``train/...``, not a git repository, an unknown
            commit, or an invalid config.
        NotFoundError: the branch's config file does not exist at that commit.
    """
    config_path = config_of_branch(branch)
    repo = Path(git("rev-parse", "--show-toplevel", cwd=start))
    head = git("rev-parse", "HEAD", cwd=repo)
    wanted = git("rev-parse", "--verify", f"{commit}^{{commit}}", cwd=repo) if commit else head
    with _checkout(repo, wanted, in_place=wanted == head) as folder:
        run, metric = _train(ws, folder / config_path, config_path, branch=branch, commit=wanted)
    return _ranked(ws, run, branch=branch, config=config_path, commit=wanted, metric=metric)


@contextlib.contextmanager
def _checkout(repo: Path, commit: str, *, in_place: bool) -> Iterator[Path]:
    """The folder to train in, with the process inside it (lineage reads the working folder)."""
    before = Path.cwd()
    if in_place:
        os.chdir(repo)
        try:
            yield repo
        finally:
            os.chdir(before)
        return
    with tempfile.TemporaryDirectory(prefix="flywheel-ci-") as tmp:
        folder = Path(tmp) / "checkout"
        git("worktree", "add", "--detach", str(folder), commit, cwd=repo)
        os.chdir(folder)
        try:
            yield folder
        finally:
            os.chdir(before)
            with contextlib.suppress(InvalidInputError):
                git("worktree", "remove", "--force", str(folder), cwd=repo)


def _train(ws: Workspace, path: Path, shown: str, *, branch: str, commit: str) -> tuple[Run, str]:
    from flywheel_ml.tune import parse_config

    if not path.is_file():
        raise NotFoundError(
            f"branch {branch} names {shown}, which does not exist at commit {commit[:10]}",
            hint=f"commit {shown} on the branch, or name the branch after an existing config",
        )
    text = path.read_text(encoding="utf-8")
    config = parse_config(text, source=shown)
    run = ws.tune.train(
        config,
        config_text=text,
        name=config.name or path.stem,
        tags={"config": path.name, "ci.branch": branch, "ci.commit": commit},
    )
    return run, f"val_{config.metric}"


def _ranked(
    ws: Workspace, run: Run, *, branch: str, config: str, commit: str, metric: str
) -> CiRun:
    page = ws.plan.get()
    if page.objective is not None:
        entries = ws.track.leaderboard()
        ranked_by = str(page.objective)
        mine = next((e for e in entries if e.run.id == run.id), None)
        rank = mine.rank if mine is not None and mine.objective_value is not None else None
        value = mine.objective_value if mine is not None else None
        count = sum(1 for e in entries if e.objective_value is not None)
        verdict = ""
        if mine is not None and not mine.passed:
            verdict = "; breaks " + ", ".join(mine.failed_constraints + mine.unmeasured_constraints)
        elif mine is not None:
            verdict = "; all constraints met"
    else:
        rank, count, ranked_by, value = _rank_by_metric(ws, run, metric)
        verdict = ""
    place = f"#{rank} of {count}" if rank is not None else f"unranked ({count} ranked)"
    shown = f"{value:.4f}" if value is not None else "-"
    line = (
        f"{branch} @ {commit[:10]}: run {run.name} ({run.short_id}) {place} by {ranked_by}: "
        f"{shown}{verdict}"
    )
    return CiRun(branch, config, commit, run, rank, count, ranked_by, value, line)


def _rank_by_metric(
    ws: Workspace, run: Run, metric: str
) -> tuple[int | None, int, str, float | None]:
    """Rank among all runs by the config's ``val_<metric>`` (no objective on the project page)."""
    from flywheel_ml.tune.training import SCORES

    direction = SCORES.get(metric.removeprefix("val_"), "max")
    values = [
        float(other.metrics[metric])
        for other in ws.track.list_runs()
        if metric in other.metrics and math.isfinite(float(other.metrics[metric]))
    ]
    if metric not in run.metrics:
        return None, len(values), metric, None
    value = float(run.metrics[metric])
    better = sum(1 for v in values if (v > value if direction == "max" else v < value))
    return better + 1, len(values), f"{metric} ({direction})", value
