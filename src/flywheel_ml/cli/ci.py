"""``flywheel ci``: train on ``git push`` of a ``train/<config>`` branch.

``ci install`` writes the git pre-push hook and the GitHub Actions / GitLab CI recipes;
``ci run train/<config>`` is what they run, and works the same locally.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from flywheel_ml.cli.context import emit, open_ws

if TYPE_CHECKING:
    from rich.console import Console

app = typer.Typer(
    help="Train on git push: a branch train/<config> trains configs/<config>.yaml.",
    no_args_is_help=True,
)


@app.command("install")
def install_command(
    repo: Annotated[
        Path, typer.Option("--repo", help="A folder inside the git repository.", file_okay=False)
    ] = Path(),
) -> None:
    """Write the pre-push hook, .github/workflows/flywheel-train.yml and .gitlab-ci.yml.

    Idempotent: Flywheel's own files are updated when they changed; a file of yours (without the
    flywheel-ci marker) is kept as it is and listed.
    """
    from flywheel_ml.scaffold.ci_recipes import install_ci

    flywheel = shutil.which("flywheel") or str(Path(sys.argv[0]).resolve())
    report = install_ci(repo, flywheel=flywheel)

    def render(out: Console) -> None:
        for path in report.written:
            out.print(f"wrote {path}")
        for path in report.unchanged:
            out.print(f"up to date {path}")
        for path in report.kept:
            out.print(f"kept {path} (not Flywheel's): add `flywheel ci run BRANCH` to it yourself")
        out.print("Push a branch train/<config> to train configs/<config>.yaml.")

    emit(
        {
            "repo": report.repo,
            "written": list(report.written),
            "unchanged": list(report.unchanged),
            "kept": list(report.kept),
        },
        render,
    )


@app.command("run")
def run_command(
    branch: Annotated[str, typer.Argument(help="The pushed branch, train/<config>.")],
    commit: Annotated[
        str | None,
        typer.Option(help="Train at this commit (default HEAD; others use a temporary worktree)."),
    ] = None,
) -> None:
    """Train configs/<config>.yaml of branch train/<config>, record the run with the commit, and
    print its leaderboard line."""
    from flywheel_ml.cli.track import run_json
    from flywheel_ml.scaffold.ci_training import config_of_branch, train_branch

    config_of_branch(branch)  # a wrong branch name fails before the workspace is opened
    with open_ws() as ws:
        done = train_branch(ws, branch, start=Path.cwd(), commit=commit)

    def render(out: Console) -> None:
        out.print(done.line)

    emit(
        {
            "branch": done.branch,
            "config": done.config,
            "commit": done.commit,
            "rank": done.rank,
            "ranked": done.ranked,
            "ranked_by": done.ranked_by,
            "value": done.value,
            "line": done.line,
            "run": run_json(done.run, full=True),
        },
        render,
    )
