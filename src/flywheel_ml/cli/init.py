"""``flywheel init``: create a workspace."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from flywheel_ml.cli.context import emit

if TYPE_CHECKING:
    from rich.console import Console


def init_command(
    directory: Annotated[Path, typer.Argument(help="Folder of the new workspace.")] = Path(),
    name: Annotated[str | None, typer.Option("--name", help="Project display name.")] = None,
) -> None:
    """Create a workspace: DIR/flywheel.toml and DIR/.flywheel/ (database and objects)."""
    from flywheel_ml.workspace import init_workspace

    with init_workspace(directory, name=name) as ws:
        data = {"root": str(ws.root), "name": ws.name, "database": ws.database.url}
        example = ws.root / "configs" / "example.yaml"
        if not example.exists():  # an experiment config to start from (`flywheel train`)
            from flywheel_ml.tune.configs import EXAMPLE_CONFIG

            example.parent.mkdir(exist_ok=True)
            example.write_text(EXAMPLE_CONFIG, encoding="utf-8")

    def render(out: Console) -> None:
        out.print(f"Created workspace [bold]{data['name']}[/] in {data['root']}")
        out.print("Next: cd into it and write the project page with `flywheel plan set ...`")

    emit(data, render)


def register(app: typer.Typer) -> None:
    """Add ``init`` to the root command."""
    app.command("init")(init_command)
