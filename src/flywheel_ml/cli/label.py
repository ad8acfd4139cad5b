"""``flywheel label``: label document, imports, agreement, weak supervision, queues, suspects."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from flywheel_ml.cli.context import emit, open_ws

if TYPE_CHECKING:
    from rich.console import Console

    from flywheel_ml.label.entities import Annotation, Queue
    from flywheel_ml.workspace import Workspace

app = typer.Typer(
    help="The label document, annotations, agreement, weak supervision, queues, label errors.",
    no_args_is_help=True,
)
guide_app = typer.Typer(help="The versioned label document.", no_args_is_help=True)
queue_app = typer.Typer(help="Queues of items to label.", no_args_is_help=True)
lf_app = typer.Typer(help="Labelling functions (weak supervision).", no_args_is_help=True)
app.add_typer(guide_app, name="guide")
app.add_typer(queue_app, name="queue")
app.add_typer(lf_app, name="lf")

DatasetOption = Annotated[
    str | None, typer.Option("--dataset", "-d", help="Dataset name (default: the only one).")
]


def _dataset(ws: Workspace, given: str | None) -> str:
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


def queue_json(q: Queue) -> dict[str, Any]:
    """A queue as JSON data."""
    return {
        "name": q.name,
        "dataset": q.dataset,
        "version": q.version,
        "strategy": q.strategy,
        "model": q.model,
        "annotators": list(q.annotators),
        "overlap": q.overlap,
        "created_at": q.created_at,
        "created_by": q.created_by,
    }


# -- guide -------------------------------------------------------------------------------------


def _guide_result(guide: Any, stale: list[tuple[str, str]]) -> None:
    from flywheel_ml.label.guide import guide_json

    data = {**guide_json(guide), "stale_items": [{"dataset": d, "item": i} for d, i in stale]}

    def render(out: Console) -> None:
        out.print(f"Label document v{guide.version}: {len(guide.classes)} classes.")
        if stale:
            out.print(f"{len(stale):,} item(s) were labelled under an older version:")
            for d, i in stale[:20]:
                out.print(f"  {d}/{i}")

    emit(data, render)


@guide_app.command("edit")
def guide_edit_command() -> None:
    """Edit the label document in $EDITOR; saving a change makes a new version."""
    import click

    from flywheel_ml.label.guide import render_guide

    with open_ws() as ws:
        current = ws.label.guide()
        text = click.edit(render_guide(current), extension=".yaml")
        if text is None:
            typer.echo("Unchanged.")
            return
        guide, stale = ws.label.set_guide(text)
    _guide_result(guide, stale)


@guide_app.command("set")
def guide_set_command(
    path: Annotated[Path, typer.Argument(help="A YAML label document.", exists=True)],
) -> None:
    """Store a label document from a YAML file (a new version when it changed)."""
    with open_ws() as ws:
        guide, stale = ws.label.set_guide(path.read_text(encoding="utf-8"))
    _guide_result(guide, stale)


@guide_app.command("show")
def guide_show_command() -> None:
    """The current label document (YAML)."""
    from flywheel_ml.label.guide import guide_json, render_guide

    with open_ws() as ws:
        guide = ws.label.guide()
        versions = len(ws.label.guides())

    def render(out: Console) -> None:
        if guide is None:
            out.print("No label document yet: flywheel label guide edit")
            return
        out.print(f"# label document v{guide.version} ({versions} version(s))")
        out.print(render_guide(guide), markup=False)

    emit(None if guide is None else guide_json(guide), render)


# -- annotations -------------------------------------------------------------------------------


@app.command("import")
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
        name = _dataset(ws, dataset)
        made = ws.label.import_annotations(
            path, dataset=name, annotator=annotator, format=fmt, id_field=id_field
        )
    annotators = sorted({a.annotator for a in made})
    data = {"dataset": name, "annotations": len(made), "annotators": annotators}

    def render(out: Console) -> None:
        out.print(f"Imported {len(made):,} annotations of {name} by {', '.join(annotators)}.")

    emit(data, render)


@app.command("hard")
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


@app.command("agreement")
def agreement_command(dataset: DatasetOption = None) -> None:
    """Cohen's kappa per pair, Fleiss' kappa, Krippendorff's alpha, accuracy vs consensus;
    recorded as the human baseline."""
    from flywheel_ml.label.stage import agreement_json

    with open_ws() as ws:
        report = ws.label.agreement(_dataset(ws, dataset))
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


@app.command("aggregate")
def aggregate_command(
    method: Annotated[str, typer.Option(help="majority or dawid-skene.")] = "majority",
    dataset: DatasetOption = None,
) -> None:
    """Combine annotators and labelling functions into probabilistic labels."""
    with open_ws() as ws:
        result = ws.label.aggregate(_dataset(ws, dataset), method=method)
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


@app.command("apply")
def apply_command(
    message: Annotated[str, typer.Option("-m", "--message", help="What changed.")] = "",
    method: Annotated[str, typer.Option(help="majority or dawid-skene.")] = "majority",
    min_confidence: Annotated[float, typer.Option(help="Skip labels below this.")] = 0.0,
    dataset: DatasetOption = None,
) -> None:
    """Add a dataset version with the aggregated labels, label source and confidence."""
    with open_ws() as ws:
        version = ws.label.apply(
            _dataset(ws, dataset), method=method, message=message, min_confidence=min_confidence
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


# -- queues ------------------------------------------------------------------------------------


@queue_app.command("create")
def queue_create_command(
    ref: Annotated[str, typer.Argument(help="Dataset version, e.g. digits@v2.")],
    name: Annotated[str | None, typer.Option(help="Queue name (default: derived).")] = None,
    strategy: Annotated[
        str, typer.Option(help="random, uncertainty, margin, entropy or diversity.")
    ] = "random",
    model: Annotated[str | None, typer.Option(help="Registry model, e.g. clf@champion.")] = None,
    size: Annotated[int, typer.Option(help="How many items.")] = 100,
    overlap: Annotated[float, typer.Option(help="Share labelled by every annotator.")] = 0.0,
    annotators: Annotated[str, typer.Option(help="Comma-separated annotator names.")] = "",
    include_test: Annotated[bool, typer.Option(help="Also draw test-split items.")] = False,
    seed: Annotated[int, typer.Option(help="Seed of random choices.")] = 0,
) -> None:
    """Choose items to label by a strategy and assign them to annotators."""
    people = [a.strip() for a in annotators.split(",") if a.strip()]
    with open_ws() as ws:
        version = ws.data.get_version(ref)
        queue_name = name or f"{version.dataset}-{strategy}-{len(ws.label.queues()) + 1}"
        splits = ("train", "val", "test") if include_test else ("train", "val")
        queue = ws.label.create_queue(
            queue_name,
            version.ref,
            strategy=strategy,
            size=size,
            model=model,
            overlap=overlap,
            annotators=people,
            splits=splits,
            seed=seed,
        )
        progress = ws.label.progress(queue.name)
    data = {**queue_json(queue), "tasks": sum(p.open for p in progress)}

    def render(out: Console) -> None:
        out.print(
            f"Queue {queue.name}: {strategy} from {queue.version}, "
            f"{data['tasks']:,} tasks for {', '.join(people)}."
        )

    emit(data, render)


@queue_app.command("list")
def queue_list_command() -> None:
    """Queues with their progress."""
    with open_ws() as ws:
        rows = [(q, ws.label.progress(q.name)) for q in ws.label.queues()]
    data = [
        {
            **queue_json(q),
            "open": sum(p.open for p in ps),
            "done": sum(p.done for p in ps),
            "skipped": sum(p.skipped for p in ps),
        }
        for q, ps in rows
    ]

    def render(out: Console) -> None:
        from rich.table import Table

        table = Table("queue", "dataset", "strategy", "model", "open", "done", "skipped")
        for d in data:
            table.add_row(
                d["name"],
                d["version"] or d["dataset"],
                d["strategy"],
                d["model"] or "",
                str(d["open"]),
                str(d["done"]),
                str(d["skipped"]),
            )
        out.print(table if data else "No queues: flywheel label queue create REF ...")

    emit(data, render)


@queue_app.command("show")
def queue_show_command(name: Annotated[str, typer.Argument(help="Queue name.")]) -> None:
    """A queue's progress per annotator and its next items."""
    with open_ws() as ws:
        queue = ws.label.get_queue(name)
        progress = ws.label.progress(name)
        tasks = [t for t in ws.label.tasks(name) if t.status == "open"][:10]
    data = {
        **queue_json(queue),
        "progress": [
            {"annotator": p.annotator, "open": p.open, "done": p.done, "skipped": p.skipped}
            for p in progress
        ],
        "next": [
            {
                "item": t.item,
                "annotator": t.annotator,
                "prelabel": t.prelabel,
                "confidence": t.confidence,
                "score": t.score,
            }
            for t in tasks
        ],
    }

    def render(out: Console) -> None:
        out.print(
            f"{queue.name}: {queue.strategy} from {queue.version or queue.dataset}"
            + (f", model {queue.model}" if queue.model else "")
        )
        for p in progress:
            out.print(f"  {p.annotator}: {p.done} done, {p.skipped} skipped, {p.open} open")
        for t in tasks:
            pre = f" pre-label {t.prelabel} ({t.confidence:.2f})" if t.prelabel is not None else ""
            out.print(f"  next: {t.item} for {t.annotator}{pre}")

    emit(data, render)


# -- suspects ----------------------------------------------------------------------------------


@app.command("suspects")
def suspects_command(
    ref: Annotated[str, typer.Argument(help="Dataset version, e.g. digits@v2.")],
    top: Annotated[int | None, typer.Option(help="List at most this many.")] = None,
    model: Annotated[
        str | None, typer.Option(help="Registry model (default: out-of-fold logistic).")
    ] = None,
    folds: Annotated[int, typer.Option(help="Cross-validation folds.")] = 5,
    by: Annotated[
        str, typer.Option(help="self_confidence or normalized_margin.")
    ] = "self_confidence",
    queue: Annotated[str | None, typer.Option(help="Put the suspects in this queue.")] = None,
) -> None:
    """Likely wrong labels from out-of-fold probabilities (train and val items only)."""
    if by not in ("self_confidence", "normalized_margin"):
        raise typer.BadParameter("--by must be self_confidence or normalized_margin")
    with open_ws() as ws:
        report = ws.label.suspects(ref, top=top, model=model, folds=folds, by=by, queue=queue)  # type: ignore[arg-type]
    data = {
        "version": report.version,
        "checked": report.checked,
        "estimated_errors": report.estimated_errors,
        "probabilities": report.probabilities,
        "queue": report.queue,
        "suspects": [
            {"item": i, "given": g, "suggested": s, "score": sc}
            for i, g, s, sc in zip(
                report.items, report.given, report.suggested, report.scores, strict=True
            )
        ],
    }

    def render(out: Console) -> None:
        out.print(
            f"{report.version}: about {report.estimated_errors:,} of {report.checked:,} "
            f"labels look wrong ({report.probabilities})."
        )
        for i, g, s, sc in list(
            zip(report.items, report.given, report.suggested, report.scores, strict=True)
        )[:50]:
            out.print(f"  {i}: labelled {g}, probably {s} (score {sc:.3f})")
        if report.queue:
            out.print(f"Review queue: {report.queue}")

    emit(data, render)
