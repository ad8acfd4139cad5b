"""``flywheel verify``: re-hash every stored object."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from flywheel_ml.cli.context import emit, fail, open_ws, progress

if TYPE_CHECKING:
    from rich.console import Console


def verify_command() -> None:
    """Re-hash every object; list those whose bytes do not match their name (exit 1 if any)."""
    with open_ws() as ws, progress("verifying objects") as advance:
        report = ws.verify(progress=advance)

    def render(out: Console) -> None:
        for digest in report.corrupt:
            out.print(f"corrupt: {digest}")
        verdict = "all match" if report.ok else f"{len(report.corrupt)} corrupt"
        out.print(f"Checked {report.checked} object(s): {verdict}.")
        if report.swept:
            out.print(f"Deleted {report.swept} temporary file(s) left by interrupted writes.")

    emit(
        {
            "checked": report.checked,
            "corrupt": list(report.corrupt),
            "ok": report.ok,
            "swept": report.swept,
        },
        render,
    )
    if not report.ok:
        fail(1)


def register(app: typer.Typer) -> None:
    """Add ``verify`` to the root command."""
    app.command("verify")(verify_command)
