"""``flywheel turn MODEL``: one turn of the flywheel, step by step."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from flywheel_ml.cli.context import console, emit, fail, open_ws

if TYPE_CHECKING:
    from rich.console import Console


def register(app: typer.Typer) -> None:
    """Add the ``turn`` command to the root app."""
    app.command("turn")(turn_command)


def turn_command(
    model: Annotated[str, typer.Argument(help="Deployed model name, e.g. digits-clf.")],
    queue: Annotated[
        str | None, typer.Option(help="Label queue (default MODEL-production).")
    ] = None,
    low_confidence: Annotated[
        float | None, typer.Option(help="Queue answers whose top probability is below this.")
    ] = 0.6,
    sample: Annotated[int, typer.Option(help="Random production rows for calibration.")] = 0,
    canary: Annotated[float, typer.Option(help="Canary share of traffic, percent.")] = 10.0,
    min_labels: Annotated[int, typer.Option(help="Labelled items needed to retrain.")] = 1,
    tolerance: Annotated[
        float, typer.Option(help="Allowed drop of the objective against the champion.")
    ] = 0.0,
) -> None:
    """One turn: production items -> label queue -> labels applied -> new data version ->
    retrain from the champion -> gated evaluation -> canary. Exit 1 unless it ends on a canary."""
    from flywheel_ml.backends.sql.monitor_store import turn_to_json
    from flywheel_ml.cli.context import STATE
    from flywheel_ml.monitor.feedback import FeedbackOptions

    say = None if STATE.json else (lambda line: console().print(line))
    options = FeedbackOptions(low_confidence=low_confidence, sample=sample)
    with open_ws() as ws:
        if say is not None:
            say(f"turn of the flywheel for {model}")
        turn = ws.monitor.turn(model, queue=queue, options=options, canary_percent=canary,
                               min_labels=min_labels, tolerance=tolerance, say=say)  # fmt: skip

    def render(out: Console) -> None:
        change = ""
        if turn.before is not None and turn.after is not None:
            change = f"; {turn.objective} {turn.before:.4f} -> {turn.after:.4f}"
        out.print(f"turn {turn.id[-12:]}: {turn.status}{change}")

    emit(turn_to_json(turn), render)
    if turn.status != "canary":
        fail(1)
