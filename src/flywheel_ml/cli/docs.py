"""``flywheel docs``: documents generated from recorded facts, with human sections kept."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from flywheel_ml.cli.context import emit, open_ws

if TYPE_CHECKING:
    from rich.console import Console

app = typer.Typer(help="Documents generated from recorded facts.", no_args_is_help=True)


@app.command("data")
def data_command(name: Annotated[str, typer.Argument(help="Dataset name.")]) -> None:
    """Write the data document of a dataset (docs/data-NAME.md and .html)."""
    from flywheel_ml.reports.data_document import write_data_document

    with open_ws() as ws:
        document = write_data_document(ws.data, name)
        ws.events.record(stage="data", kind="document.written", subject=name)
    data = {
        "markdown": str(document.markdown),
        "html": str(document.html),
        "unwritten": list(document.unwritten),
    }

    def render(out: Console) -> None:
        out.print(f"Wrote {document.markdown} and {document.html.name}.")
        if document.unwritten:
            out.print("Still to write by hand: " + ", ".join(document.unwritten))

    emit(data, render)
