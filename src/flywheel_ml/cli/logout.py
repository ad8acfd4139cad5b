"""``flywheel logout``: forget the team server saved by ``flywheel login``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from flywheel_ml.cli.context import emit

if TYPE_CHECKING:
    from rich.console import Console


def logout_command() -> None:
    """Forget the server and token saved by `flywheel login`."""
    from flywheel_ml.config import forget_login, login_file

    removed = forget_login()

    def render(out: Console) -> None:
        out.print(f"Removed {login_file()}." if removed else "Not logged in to any server.")

    emit({"removed": removed}, render)


def register(app: typer.Typer) -> None:
    """Add ``logout`` to the root command."""
    app.command("logout")(logout_command)
