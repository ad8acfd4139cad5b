"""``flywheel label import | hard | agreement``, and the dataset option the label commands share."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from flywheel_ml.cli.context import emit, open_ws

if TYPE_CHECKING:
    from rich.console import Console

    from flywheel_ml.label.entities import Annotation
    from flywheel_ml.workspace import Workspace

DatasetOption = Annotated[
    str | None, typer.Option("--dataset", "-d", help="Dataset name (default: the only one).")
]


def pick_dataset(ws: Workspace, given: str | None) -> str:
    """The dataset ``--dataset`` names, or the workspace's only dataset.

    Raises:
        InvalidInputError: no name given and not exactly one dataset.
    """
    if given:
        return given
    from flywheel_ml.errors import InvalidInputError

    names = [d.name for d in ws.data.list_datasets() if d.role == "dataset"]
    if len(names) != 1:
        raise InvalidInputError(
            "name the dataset" if names else "the workspace has no dataset",
            hint="pass --dataset NAME" if names else "flywheel data add FILE --name NAME",
        )
    return names[0]


def annotation_json(a: Annotation) -> dict[str, Any]:
    """An annotation as JSON data."""
    return {
        "id": a.id,
        "dataset": a.dataset,
        "item": a.item,
        "label": a.label,
        "annotator": a.annotator,
        "source": a.source,
        "created_at": a.created_at,
        "duration_s": a.duration_s,
        "guide_version": a.guide_version,
        "hard": a.hard,
        "note": a.note,
        "queue": a.queue,
        "confidence": a.confidence,
        "provenance": a.provenance,
    }


# -- annotations -------------------------------------------------------------------------------


def import_command(
    path: Annotated[Path, typer.Argument(help="JSONL, CSV or a Label Studio JSON export.")],
    annotator: Annotated[
        str | None, typer.Option(help="Annotator of records that name none.")
    ] = None,
    dataset: DatasetOption = None,
    fmt: Annotated[str | None, typer.Option("--format", help="jsonl, csv or label-studio.")] = None,
    id_field: Annotated[
        str, typer.Option(help="Label Studio: the task data field holding item ids.")
    ] = "item",
) -> None:
    """Import annotations (all or none): {"item": ID, "label": ...} lines, CSV or Label Studio."""
    with open_ws() as ws:
        name = pick_dataset(ws, dataset)
        made = ws.label.import_annotations(
            path, dataset=name, annotator=annotator, format=fmt, id_field=id_field
        )
    annotators = sorted({a.annotator for a in made})
    data = {"dataset": name, "annotations": len(made), "annotators": annotators}

    def render(out: Console) -> None:
        out.print(f"Imported {len(made):,} annotations of {name} by {', '.join(annotators)}.")

    emit(data, render)


def hard_command(dataset: DatasetOption = None) -> None:
    """Items tagged hard to label, with their notes."""
    with open_ws() as ws:
        found = ws.label.hard_items(dataset)

    def render(out: Console) -> None:
        for a in found:
            out.print(f"{a.dataset}/{a.item} ({a.annotator}, {a.created_at:%Y-%m-%d}): {a.note}")
        out.print(f"{len(found)} hard item(s).")

    emit([annotation_json(a) for a in found], render)


# -- agreement and aggregation ----------------------------------------------------------------


def agreement_command(dataset: DatasetOption = None) -> None:
    """Cohen's kappa per pair, Fleiss' kappa, Krippendorff's alpha, accuracy vs consensus;
    recorded as the human baseline."""
    from flywheel_ml.label.stage import agreement_json

    with open_ws() as ws:
        report = ws.label.agreement(pick_dataset(ws, dataset))
    data = agreement_json(report)

    def render(out: Console) -> None:
        out.print(
            f"{report.dataset}: {report.items:,} items rated by 2+ of "
            f"{len(report.annotators)} annotators"
        )
        for pair, kappa in report.cohen.items():
            out.print(f"  Cohen's kappa {pair.replace('|', ' / ')}: {kappa:.3f}")
        out.print(
            f"Fleiss' kappa {report.fleiss_kappa:.3f}; Krippendorff's alpha nominal "
            f"{report.alpha_nominal:.3f}, ordinal {report.alpha_ordinal:.3f}"
        )
        for who, acc in report.accuracy.items():
            out.print(f"  {who}: {acc:.1%} vs consensus ({report.support[who]:,} items)")
        out.print(f"Human baseline recorded: mean accuracy {report.mean_accuracy:.1%}.")

    emit(data, render)
