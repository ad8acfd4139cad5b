"""``flywheel status``: the nine lifecycle stages with evidence or the next step."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from flywheel_ml.cli.context import emit, open_ws

if TYPE_CHECKING:
    from rich.console import Console


def status_command() -> None:
    """Show each lifecycle stage's deliverables with their evidence, or what to run next."""
    from flywheel_ml.reports.status import status_to_json

    with open_ws() as ws:
        statuses = ws.status()
        name = ws.name

    def render(out: Console) -> None:
        from rich.table import Table

        table = Table(title=f"{name} — lifecycle status", show_lines=False)
        table.add_column("#", justify="right")
        table.add_column("stage")
        table.add_column("deliverable")
        table.add_column("evidence / next step")
        for number, stage in enumerate(statuses, start=1):
            for index, item in enumerate(stage.deliverables):
                mark = "[green]✔[/]" if item.done else "[yellow]…[/]"
                detail = (
                    item.evidence
                    if item.done
                    else (
                        (item.evidence + "; " if item.evidence else "")
                        + f"missing: {item.next_step}"
                    )
                )
                table.add_row(
                    str(number) if index == 0 else "",
                    stage.stage if index == 0 else "",
                    f"{mark} {item.name}",
                    detail,
                )
        out.print(table)

    emit({"project": name, "stages": status_to_json(statuses)}, render)


def register(app: typer.Typer) -> None:
    """Add ``status`` to the root command."""
    app.command("status")(status_command)
