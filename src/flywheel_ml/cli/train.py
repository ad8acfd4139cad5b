"""``flywheel train CONFIG``: one config file = one experiment = one run with its model."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from flywheel_ml.cli.context import emit, open_ws

if TYPE_CHECKING:
    from rich.console import Console


def train_command(
    config: Annotated[Path, typer.Argument(help="Experiment config file (YAML).")],
    name: Annotated[str | None, typer.Option(help="Run name (default: the config's).")] = None,
    resume: Annotated[
        str | None, typer.Option(help="Continue from this run's newest checkpoint.")
    ] = None,
) -> None:
    """Train the config's model on the train split, score it on val; one run + model."""
    from flywheel_ml.cli.track import run_json
    from flywheel_ml.tune import load_config

    parsed = load_config(config)
    with open_ws() as ws:
        run = ws.tune.train(
            parsed,
            config_text=config.read_text(encoding="utf-8"),
            name=name or config.stem,
            tags={"config": config.name},
            resume=resume,
        )
    data = run_json(run)

    def render(out: Console) -> None:
        out.print(f"run [bold]{run.name}[/] ({run.short_id}) on {', '.join(run.datasets)}")
        shown = {k: v for k, v in sorted(run.metrics.items()) if k.startswith(("val_", "train_"))}
        out.print("  " + ", ".join(f"{k} {v:.4f}" for k, v in shown.items()))
        out.print(f"  model kept with the run; see `flywheel track show {run.short_id}`")

    emit(data, render)


def register(app: typer.Typer) -> None:
    """Add ``train`` to the root command."""
    app.command("train")(train_command)
