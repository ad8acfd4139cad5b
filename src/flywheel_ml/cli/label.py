"""``flywheel label``: label document, imports, agreement, weak supervision, queues, suspects.

The group and the label document's commands are here; the other commands live in
:mod:`~flywheel_ml.cli.label_annotations` (import, hard, agreement),
:mod:`~flywheel_ml.cli.label_weak` (aggregate, apply, labelling functions) and
:mod:`~flywheel_ml.cli.label_queues` (queues, suspects), and are registered below in the order
of the help.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from flywheel_ml.cli.context import emit, open_ws
from flywheel_ml.cli.label_annotations import agreement_command, hard_command, import_command
from flywheel_ml.cli.label_queues import queue_app, suspects_command
from flywheel_ml.cli.label_weak import aggregate_command, apply_command, lf_app

if TYPE_CHECKING:
    from rich.console import Console

app = typer.Typer(
    help="The label document, annotations, agreement, weak supervision, queues, label errors.",
    no_args_is_help=True,
)
guide_app = typer.Typer(help="The versioned label document.", no_args_is_help=True)
app.add_typer(guide_app, name="guide")
app.add_typer(queue_app, name="queue")
app.add_typer(lf_app, name="lf")
app.command("import")(import_command)
app.command("hard")(hard_command)
app.command("agreement")(agreement_command)
app.command("aggregate")(aggregate_command)
app.command("apply")(apply_command)
app.command("suspects")(suspects_command)


def _guide_result(guide: Any, stale: list[tuple[str, str]]) -> None:
    from flywheel_ml.label.guide import guide_json

    data = {**guide_json(guide), "stale_items": [{"dataset": d, "item": i} for d, i in stale]}

    def render(out: Console) -> None:
        out.print(f"Label document v{guide.version}: {len(guide.classes)} classes.")
        if stale:
            out.print(f"{len(stale):,} item(s) were labelled under an older version:")
            for d, i in stale[:20]:
                out.print(f"  {d}/{i}")

    emit(data, render)


@guide_app.command("edit")
def guide_edit_command() -> None:
    """Edit the label document in $EDITOR; saving a change makes a new version."""
    import click

    from flywheel_ml.label.guide import render_guide

    with open_ws() as ws:
        current = ws.label.guide()
        text = click.edit(render_guide(current), extension=".yaml")
        if text is None:
            typer.echo("Unchanged.")
            return
        guide, stale = ws.label.set_guide(text)
    _guide_result(guide, stale)


@guide_app.command("set")
def guide_set_command(
    path: Annotated[Path, typer.Argument(help="A YAML label document.", exists=True)],
) -> None:
    """Store a label document from a YAML file (a new version when it changed)."""
    with open_ws() as ws:
        guide, stale = ws.label.set_guide(path.read_text(encoding="utf-8"))
    _guide_result(guide, stale)


@guide_app.command("show")
def guide_show_command() -> None:
    """The current label document (YAML)."""
    from flywheel_ml.label.guide import guide_json, render_guide

    with open_ws() as ws:
        guide = ws.label.guide()
        versions = len(ws.label.guides())

    def render(out: Console) -> None:
        if guide is None:
            out.print("No label document yet: flywheel label guide edit")
            return
        out.print(f"# label document v{guide.version} ({versions} version(s))")
        out.print(render_guide(guide), markup=False)

    emit(None if guide is None else guide_json(guide), render)
