"""``flywheel status``: the nine lifecycle stages with evidence or the next step."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from flywheel_ml.cli.context import STATE, emit, open_ws

if TYPE_CHECKING:
    from rich.console import Console


def _compute() -> dict[str, Any]:
    from flywheel_ml.reports.status import status_to_json

    with open_ws() as ws:
        statuses = ws.status()
        report = ws.champion_readiness(status=statuses)
        return {
            "project": ws.name,
            "stages": status_to_json(statuses),
            "readiness": None if report is None else report.summary(),
        }


def readiness_line(summary: dict[str, Any] | None) -> str:
    """The status line of the champion's ML Test Score (or how to get one)."""
    if summary is None:
        return (
            "Readiness (ML Test Score): no champion yet; "
            "missing: flywheel registry alias NAME champion VERSION"
        )
    return (
        f"Readiness (ML Test Score) of {summary['model']}: {summary['score']:g} of 7; "
        f"{summary['measurable']} of {summary['total']} tests measurable, "
        f"{summary['passed']} passed; details: flywheel readiness {summary['model']}"
    )


def status_command(
    fresh: bool = typer.Option(False, "--fresh", help="Ignore the cached status."),
) -> None:
    """Show each lifecycle stage's deliverables with their evidence, or what to run next, and
    the champion's readiness (ML Test Score)."""
    from flywheel_ml.cli import status_cache
    from flywheel_ml.config import find_root, load_settings, server_to_use

    data: dict[str, Any] | None
    if server_to_use(STATE.workspace_dir) is not None:
        data = _compute()  # a team server's client: the cache keys on a local SQLite file
    else:
        settings = load_settings(find_root(STATE.workspace_dir))
        key = status_cache.cache_key(settings)
        data = None if fresh else status_cache.load(settings, key)
        if data is None:
            data = _compute()
            status_cache.store(settings, key, data)

    def render(out: Console) -> None:
        from rich.table import Table

        table = Table(title=f"{data['project']} — lifecycle status")
        table.add_column("#", justify="right")
        table.add_column("stage")
        table.add_column("deliverable")
        table.add_column("evidence / next step")
        for number, stage in enumerate(data["stages"], start=1):
            for index, item in enumerate(stage["deliverables"]):
                mark = "[green]✔[/]" if item["done"] else "[yellow]…[/]"
                detail = (
                    item["evidence"]
                    if item["done"]
                    else (
                        (item["evidence"] + "; " if item["evidence"] else "")
                        + f"missing: {item['next_step']}"
                    )
                )
                first = index == 0
                table.add_row(
                    str(number) if first else "",
                    stage["stage"] if first else "",
                    f"{mark} {item['name']}",
                    detail,
                )
        out.print(table)
        out.print(readiness_line(data.get("readiness")), highlight=False)

    emit(data, render)


def register(app: typer.Typer) -> None:
    """Add ``status`` to the root command."""
    app.command("status")(status_command)
