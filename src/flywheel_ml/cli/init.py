"""``flywheel init``: create a workspace, optionally laid out as a project from a template."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from flywheel_ml.cli.context import emit

if TYPE_CHECKING:
    from rich.console import Console

    from flywheel_ml.workspace import Workspace

_SHOWN = 20  # kept files listed one by one; the rest are counted


def init_command(
    directory: Annotated[Path, typer.Argument(help="Folder of the new workspace.")] = Path(),
    name: Annotated[str | None, typer.Option("--name", help="Project display name.")] = None,
    template: Annotated[
        str | None,
        typer.Option(
            "--template",
            help="Lay out a project that trains with no edits: classification (tables), text "
            "or image. Idempotent: existing files are kept, never overwritten.",
        ),
    ] = None,
    package: Annotated[
        str | None,
        typer.Option(help="Python package under src/ (default: made of the project name)."),
    ] = None,
) -> None:
    """Create a workspace: DIR/flywheel.toml and DIR/.flywheel/ (database and objects).

    With --template, also write configs/, data/ (sample data, added as a dataset), notebooks/,
    src/<package>/{datasets,models,train}.py, api/, tests/, .gitignore and a CI workflow; run
    again on an existing workspace, it adds only the files that are missing.
    """
    from flywheel_ml.config import PROJECT_FILE
    from flywheel_ml.workspace import init_workspace, open_workspace

    if template is not None:
        from flywheel_ml.scaffold import TEMPLATES

        if template not in TEMPLATES:
            raise typer.BadParameter(
                f"no template {template!r}; choose one of: {', '.join(TEMPLATES)}",
                param_hint="--template",
            )
    existing = template is not None and (directory / PROJECT_FILE).is_file()
    opened = open_workspace(directory) if existing else init_workspace(directory, name=name)
    with opened as ws:
        data: dict[str, Any] = {"root": str(ws.root), "name": ws.name, "database": ws.database.url}
        if template is None:
            _write_example_config(ws)
        else:
            from flywheel_ml.scaffold import scaffold_project

            report = scaffold_project(ws, template, package=package)
            data.update(
                template=report.template, package=report.package, config=report.config,
                dataset=report.dataset, dataset_added=report.dataset_added,
                written=list(report.written), kept=list(report.kept),
            )  # fmt: skip

    def render(out: Console) -> None:
        verb = "Using" if existing else "Created"
        out.print(f"{verb} workspace [bold]{data['name']}[/] in {data['root']}")
        if template is None:
            out.print("Next: cd into it and write the project page with `flywheel plan set ...`")
            return
        out.print(f"Wrote {len(data['written'])} file(s) of the {template} template.")
        if data["kept"]:
            out.print(f"Kept {len(data['kept'])} existing file(s) as they were:")
            for path in data["kept"][:_SHOWN]:
                out.print(f"  {path}")
            if len(data["kept"]) > _SHOWN:
                out.print(f"  ... and {len(data['kept']) - _SHOWN} more")
        if data["dataset_added"]:
            out.print(f"Added the sample data as {data['dataset_added']}.")
        out.print(f"Next: flywheel train {data['config']}")

    emit(data, render)


def _write_example_config(ws: Workspace) -> None:
    example = ws.root / "configs" / "example.yaml"
    if not example.exists():  # an experiment config to start from (`flywheel train`)
        from flywheel_ml.tune.configs import EXAMPLE_CONFIG

        example.parent.mkdir(exist_ok=True)
        example.write_text(EXAMPLE_CONFIG, encoding="utf-8")


def register(app: typer.Typer) -> None:
    """Add ``init`` to the root command."""
    app.command("init")(init_command)
