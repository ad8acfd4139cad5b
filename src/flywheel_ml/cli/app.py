"""The root ``flywheel`` command: global options and one sub-command group per stage.

Stage modules import their heavy dependencies (pandas, scikit-learn, SQLAlchemy) inside the
command functions, so ``flywheel --help`` stays fast. Typer also builds the click command tree
of every registered group on each call (~10 ms a group), so :func:`build_app` registers only the
sub-command being run when it is known, and everything for the root help.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Annotated

import typer

from flywheel_ml.cli.context import STATE

# Sub-command name -> whether its module adds a group (``module.app``) or a command
# (``module.register(app)``); the order is the order of the root help.
_SUBCOMMANDS: dict[str, str] = {
    "init": "command",
    "status": "command",
    "verify": "command",
    "demo": "command",
    "run": "command",
    "plan": "group",
    "data": "group",
    "label": "group",
    "docs": "group",
    "track": "group",
    "baseline": "command",
    "train": "command",
    "ci": "group",
    "tune": "group",
    "analyze": "group",
    "registry": "group",
    "serve": "group",
    "monitor": "group",
    "turn": "command",
    "ui": "command",
    "import": "group",
    "readiness": "command",
    "server": "group",
    "login": "command",
    "logout": "command",
    "export": "group",
}
# Sub-commands whose module name differs (``import`` is a Python keyword).
_MODULES: dict[str, str] = {"import": "imports"}

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


def build_app(command: str | None = None) -> typer.Typer:
    """The root app with ``command`` registered, or every sub-command when it is not one of ours.

    Call once per process: it registers into the module's ``app``.
    """
    names = [command] if command in _SUBCOMMANDS else list(_SUBCOMMANDS)
    for name in names:
        module = importlib.import_module(f"flywheel_ml.cli.{_MODULES.get(name, name)}")
        if _SUBCOMMANDS[name] == "group":
            app.add_typer(module.app, name=name)
        else:
            module.register(app)
    return app
