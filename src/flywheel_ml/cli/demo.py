"""``flywheel demo``: a whole lifecycle pass on bundled real data."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from flywheel_ml.cli.context import STATE, emit

if TYPE_CHECKING:
    from rich.console import Console


def demo_command(
    directory: Annotated[
        Path,
        typer.Option(
            "--dir", help="Folder for the demo workspace (re-created if it holds an earlier demo)."
        ),
    ] = Path("flywheel-demo"),
) -> None:
    """Build a demo project on scikit-learn's digits, run each stage, print where to look."""
    from flywheel_ml.demo import run_demo

    def say(line: str) -> None:
        if not STATE.json:
            print(line, file=sys.stdout, flush=True)

    result = run_demo(directory, say=say)

    def render(out: Console) -> None:
        out.print(f"\nDemo workspace: [bold]{result.root}[/]")
        out.print(f"  flywheel -C {result.root} status")
        for what, where in result.look_at:
            out.print(f"  {what}: {where}")

    emit(
        {"root": str(result.root), "look_at": [{"what": w, "where": p} for w, p in result.look_at]},
        render,
    )


def register(app: typer.Typer) -> None:
    """Add ``demo`` to the root command."""
    app.command("demo")(demo_command)
