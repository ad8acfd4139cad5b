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


@app.command("error-analysis")
def error_analysis_command(
    ref: Annotated[str, typer.Argument(help="A model version: NAME@vN or NAME@alias.")],
    on: Annotated[str, typer.Option("--on", help="Split to analyse: val, train or test.")] = "val",
    purpose: Annotated[
        str | None, typer.Option(help="Why sealed test labels are read (--on test; audited).")
    ] = None,
) -> None:
    """Write the error-analysis report of a model (docs/error-analysis-NAME-vN.md and .html)."""
    from flywheel_ml.reports.error_analysis import write_error_analysis

    with open_ws() as ws:
        report = write_error_analysis(
            ws.analyze, ref, on=on, purpose=purpose, evaluation=ws.registry.latest_evaluation
        )
        ws.events.record(stage="analyze", kind="document.written", subject=report.errors.model)
    data = {
        "markdown": str(report.markdown),
        "html": str(report.html),
        "accuracy": report.errors.accuracy,
        "clusters": len(report.clusters.clusters),
        "unwritten": list(report.unwritten),
    }

    def render(out: Console) -> None:
        out.print(f"Wrote {report.markdown} and {report.html.name}.")
        if report.unwritten:
            out.print("Still to write by hand: " + ", ".join(report.unwritten))

    emit(data, render)


@app.command("experience")
def experience_command() -> None:
    """Write the experience report (docs/experience.md and .html): timeline, data versions,
    baseline vs. final, what worked and what didn't."""
    from flywheel_ml.reports.experience import write_experience_report

    with open_ws() as ws:
        report = write_experience_report(
            plan=ws.plan, data=ws.data, track=ws.track, registry=ws.registry,
            analyze=ws.analyze, events=ws.events, docs_dir=ws.root / "docs",
        )  # fmt: skip
        ws.events.record(stage="analyze", kind="document.written", subject="experience report")
    data = {
        "markdown": str(report.markdown),
        "html": str(report.html),
        "baseline": report.baseline,
        "best": report.best,
        "final": report.final,
        "unwritten": list(report.unwritten),
    }

    def render(out: Console) -> None:
        out.print(f"Wrote {report.markdown} and {report.html.name}.")
        if report.unwritten:
            out.print("Still to write by hand: " + ", ".join(report.unwritten))

    emit(data, render)
