"""The root ``flywheel`` command: global options and one sub-command group per stage.

Stage modules import their heavy dependencies (pandas, scikit-learn, SQLAlchemy) inside the
command functions, so ``flywheel --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from flywheel_ml.cli import data as data_cli
from flywheel_ml.cli import demo, init, plan, status, verify
from flywheel_ml.cli import docs as docs_cli
from flywheel_ml.cli import registry as registry_cli
from flywheel_ml.cli import run as run_cli
from flywheel_ml.cli import serve as serve_cli
from flywheel_ml.cli import track as track_cli
from flywheel_ml.cli.context import STATE

app = typer.Typer(
    name="flywheel",
    help="Carry a supervised ML project around its whole lifecycle and keep the record of "
    "every step.\n\nGlobal flags --json (machine-readable output) and --debug (tracebacks) "
    "may be given anywhere on the command line.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        from flywheel_ml import __version__

        typer.echo(f"flywheel {__version__}")
        raise typer.Exit(0)


@app.callback()
def root(
    workspace: Annotated[
        Path | None,
        typer.Option(
            "-C", "--workspace", help="Run as if started in this workspace folder.", file_okay=False
        ),
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print one JSON document instead of text.")
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks of errors.")] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Flywheel."""
    STATE.workspace_dir = workspace
    STATE.json = STATE.json or json_output
    STATE.debug = STATE.debug or debug


init.register(app)
status.register(app)
verify.register(app)
demo.register(app)
app.add_typer(plan.app, name="plan")
app.add_typer(data_cli.app, name="data")
app.add_typer(docs_cli.app, name="docs")
app.add_typer(registry_cli.app, name="registry")
app.add_typer(serve_cli.app, name="serve")
app.add_typer(track_cli.app, name="track")
run_cli.register(app)
