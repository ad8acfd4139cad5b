"""``flywheel readiness``: the ML Test Score of a model version, from recorded facts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from flywheel_ml.cli.context import emit, open_ws

if TYPE_CHECKING:
    from rich.console import Console


def readiness_command(
    ref: Annotated[str, typer.Argument(help="Model version, e.g. digits-clf@champion.")],
) -> None:
    """Score REF on the 28 tests of the ML Test Score (data, model, infrastructure,
    monitoring): each passed (0.5 on record, 1 checked automatically), failed, or what to run."""
    from dataclasses import asdict

    with open_ws() as ws:
        report = ws.readiness(ref)

    def render(out: Console) -> None:
        from rich.table import Table

        table = Table(title=f"ML Test Score of {report.model}", title_justify="left")
        for column in ("test", "verdict", "points", "evidence or next step"):
            table.add_column(column)
        for item in report.items:
            table.add_row(
                f"{item.section.capitalize()} {item.number}: {item.title}",
                item.state,
                f"{item.points:g}",
                item.evidence or item.next_step,
            )
        out.print(table)
        scores = ", ".join(f"{s} {v:g}" for s, v in report.section_scores.items())
        out.print(f"Sections (out of 7): {scores}. Final score (the lowest): {report.score:g}.")

    emit(
        {
            "model": report.model,
            "at": report.at.isoformat(),
            "sections": report.section_scores,
            "score": report.score,
            "items": [asdict(i) for i in report.items],
        },
        render,
    )


def register(app: typer.Typer) -> None:
    """Add ``readiness`` to the root command."""
    app.command("readiness")(readiness_command)
