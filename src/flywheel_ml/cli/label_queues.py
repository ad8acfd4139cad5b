"""``flywheel label queue create | list | show`` and ``flywheel label suspects`` (whose list
can feed a review queue)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from flywheel_ml.cli.context import emit, open_ws

if TYPE_CHECKING:
    from rich.console import Console

    from flywheel_ml.label.entities import Queue

queue_app = typer.Typer(help="Queues of items to label.", no_args_is_help=True)


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


def suspects_command(
    ref: Annotated[str, typer.Argument(help="Dataset version, e.g. digits@v2.")],
    top: Annotated[int | None, typer.Option(help="List at most this many.")] = None,
    model: Annotated[
        str | None, typer.Option(help="Registry model (default: out-of-fold logistic).")
    ] = None,
    folds: Annotated[int, typer.Option(help="Cross-validation folds.")] = 5,
    by: Annotated[
        str,
        typer.Option(
            help="Ranking: log_ratio (log odds of the given label against the most probable "
            "other class), self_confidence or normalized_margin."
        ),
    ] = "log_ratio",
    queue: Annotated[str | None, typer.Option(help="Put the suspects in this queue.")] = None,
) -> None:
    """Likely wrong labels from out-of-fold probabilities (train and val items only)."""
    if by not in ("log_ratio", "self_confidence", "normalized_margin"):
        raise typer.BadParameter("--by must be log_ratio, self_confidence or normalized_margin")
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
