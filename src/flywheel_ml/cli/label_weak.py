"""``flywheel label aggregate | apply | lf``: weak supervision and writing labels back."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from flywheel_ml.cli.context import emit, open_ws
from flywheel_ml.cli.label_annotations import DatasetOption, pick_dataset

if TYPE_CHECKING:
    from rich.console import Console

lf_app = typer.Typer(help="Labelling functions (weak supervision).", no_args_is_help=True)


def aggregate_command(
    method: Annotated[str, typer.Option(help="majority or dawid-skene.")] = "majority",
    dataset: DatasetOption = None,
) -> None:
    """Combine annotators and labelling functions into probabilistic labels."""
    with open_ws() as ws:
        result = ws.label.aggregate(pick_dataset(ws, dataset), method=method)
    labels = result.labels
    confidence = result.confidence
    data = {
        "dataset": result.dataset,
        "method": result.method,
        "items": len(result.items),
        "classes": list(result.classes),
        "sources": [
            {"name": s, "accuracy": result.accuracy[s], "coverage": result.coverage[s]}
            for s in result.sources
        ],
        "labels": [
            {"item": i, "label": lab, "confidence": float(c)}
            for i, lab, c in zip(result.items, labels, confidence, strict=True)
        ],
    }

    def render(out: Console) -> None:
        from rich.table import Table

        table = Table("source", "estimated accuracy", "coverage")
        for s in result.sources:
            table.add_row(s, f"{result.accuracy[s]:.3f}", f"{result.coverage[s]:.1%}")
        out.print(table)
        low = int((confidence < 0.8).sum())
        out.print(
            f"{len(result.items):,} items labelled by {result.method}; {low:,} with "
            "confidence below 0.8. Write them: flywheel label apply -m MESSAGE"
        )

    emit(data, render)


def apply_command(
    message: Annotated[str, typer.Option("-m", "--message", help="What changed.")] = "",
    method: Annotated[str, typer.Option(help="majority or dawid-skene.")] = "majority",
    min_confidence: Annotated[float, typer.Option(help="Skip labels below this.")] = 0.0,
    dataset: DatasetOption = None,
) -> None:
    """Add a dataset version with the aggregated labels, label source and confidence."""
    with open_ws() as ws:
        version = ws.label.apply(
            pick_dataset(ws, dataset), method=method, message=message, min_confidence=min_confidence
        )
    data = {"ref": version.ref, "digest": version.digest, "items": version.items}

    def render(out: Console) -> None:
        out.print(f"Added {version.ref} ({version.short}): {version.items:,} items.")

    emit(data, render)


@lf_app.command("add")
def lf_add_command(
    name: Annotated[str, typer.Argument(help="Function name.")],
    python: Annotated[str, typer.Option("--python", help="module:function")],
    description: Annotated[str, typer.Option(help="What it looks for.")] = "",
) -> None:
    """Register a labelling function: module:function(items DataFrame) -> label or None per row."""
    with open_ws() as ws:
        function = ws.label.add_function(name, python, description=description)

    def render(out: Console) -> None:
        out.print(f"Labelling function {function.name} = {function.target}.")

    emit({"name": function.name, "target": function.target}, render)


@lf_app.command("list")
def lf_list_command() -> None:
    """Registered labelling functions."""
    with open_ws() as ws:
        functions = ws.label.functions()

    def render(out: Console) -> None:
        for f in functions:
            out.print(f"{f.name}: {f.target} {f.description}")
        if not functions:
            out.print("No labelling functions: flywheel label lf add NAME --python mod:fn")

    emit([{"name": f.name, "target": f.target} for f in functions], render)


@lf_app.command("remove")
def lf_remove_command(name: Annotated[str, typer.Argument(help="Function name.")]) -> None:
    """Unregister a labelling function."""
    with open_ws() as ws:
        existed = ws.label.remove_function(name)

    def render(out: Console) -> None:
        out.print(f"Removed {name}." if existed else f"No labelling function {name}.")

    emit({"name": name, "removed": existed}, render)
