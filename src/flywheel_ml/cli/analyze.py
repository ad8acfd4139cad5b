"""``flywheel analyze``: errors, slices, failure clusters, comparisons, pipelines, features."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from flywheel_ml.cli.context import emit, open_ws

if TYPE_CHECKING:
    from rich.console import Console

    from flywheel_ml.analyze.entities import SliceResult
    from flywheel_ml.analyze.pipeline import Link

app = typer.Typer(
    help="Where and why a model is wrong: confusion, slices, failure clusters, pipelines.",
    no_args_is_help=True,
)

Ref = Annotated[str, typer.Argument(help="A model version: NAME@vN or NAME@alias.")]
On = Annotated[
    str, typer.Option("--on", help="Split to analyse: val (the normal case), train or test.")
]
Data = Annotated[
    str | None,
    typer.Option("--data", help="Dataset version to read instead of the one the model trained on."),
]
Purpose = Annotated[
    str | None,
    typer.Option(help="Why sealed test labels are read (needed for --on test; audited)."),
]


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _slice_table(out: Console, rows: tuple[SliceResult, ...], *, limit: int | None) -> None:
    from rich.table import Table

    table = Table("slice", "kind", "rows", "accuracy", "95% interval", "vs overall")
    for r in rows[:limit]:
        interval = "" if r.ci_low is None else f"{_pct(r.ci_low)} – {_pct(r.ci_high)}"
        delta = "too small" if r.too_small else (
            "" if r.delta is None else f"{100 * r.delta:+.1f} pt")  # fmt: skip
        table.add_row(r.name, r.kind, str(r.rows), _pct(r.accuracy), interval, delta)
    out.print(table)


@app.command("errors")
def errors_command(
    ref: Ref,
    on: On = "val",
    data: Data = None,
    purpose: Purpose = None,
    mistakes: Annotated[int, typer.Option(help="How many confident mistakes to list.")] = 10,
    min_rows: Annotated[int, typer.Option(help="Slices with fewer rows are too small.")] = 30,
) -> None:
    """Confusion matrix, per-class precision/recall/F1, worst slices, confident mistakes,
    calibration."""
    with open_ws() as ws:
        found = ws.analyze.errors(
            ref, on=on, dataset=data, purpose=purpose, mistakes=mistakes, min_rows=min_rows
        )

    def render(out: Console) -> None:
        from rich.table import Table

        out.print(
            f"{found.model} on {found.dataset} {found.split}: {found.rows} rows, "
            f"{found.errors} mistakes, accuracy {_pct(found.accuracy)}, balanced "
            f"{_pct(found.balanced_accuracy)}, macro F1 {found.macro_f1:.3f}"
            + ("" if found.ece is None else f", calibration error {found.ece:.3f}")
        )
        matrix = Table("true \\ pred", *found.labels, title="confusion matrix")
        for label, row in zip(found.labels, found.confusion, strict=True):
            matrix.add_row(label, *[str(v) if v else "·" for v in row])
        out.print(matrix)
        classes = Table("class", "precision", "recall", "F1", "support")
        for c in found.per_class:
            classes.add_row(c.label, f"{c.precision:.3f}", f"{c.recall:.3f}", f"{c.f1:.3f}",
                            str(c.support))  # fmt: skip
        out.print(classes)
        out.print("Worst slices:")
        _slice_table(out, found.slices, limit=5)
        if found.confident_mistakes:
            mist = Table("item", "true", "predicted", "confidence", title="most confident mistakes")
            for m in found.confident_mistakes:
                conf = "" if m.confidence is None else f"{m.confidence:.3f}"
                mist.add_row(m.item, m.true, m.predicted, conf)
            out.print(mist)

    emit(found.to_dict(), render)


@app.command("slices")
def slices_command(
    ref: Ref,
    on: On = "val",
    data: Data = None,
    purpose: Purpose = None,
    min_rows: Annotated[int, typer.Option(help="Slices with fewer rows are too small.")] = 30,
    level: Annotated[float, typer.Option(help="Confidence level of the intervals.")] = 0.95,
) -> None:
    """Every saved slice, every class and every extra test set, with counts and bootstrap
    confidence intervals (extra test sets only with --purpose: an audited read)."""
    with open_ws() as ws:
        found = ws.analyze.slices(
            ref, on=on, dataset=data, purpose=purpose, min_rows=min_rows, level=level
        )

    def render(out: Console) -> None:
        out.print(f"{found.model} on {found.dataset} {found.split}: {found.rows} rows, "
                  f"accuracy {_pct(found.accuracy)}")  # fmt: skip
        _slice_table(out, found.slices, limit=None)
        if found.sealed:
            out.print(
                "Sealed extra test sets not read (pass --purpose): " + ", ".join(found.sealed)
            )

    emit(found.to_dict(), render)


@app.command("clusters")
def clusters_command(
    ref: Ref,
    on: On = "val",
    data: Data = None,
    purpose: Purpose = None,
    min_samples: Annotated[int, typer.Option(help="DBSCAN's min_samples (and k).")] = 4,
    eps: Annotated[
        float | None, typer.Option(help="DBSCAN's radius (default: the k-distance knee).")
    ] = None,
    embedding: Annotated[
        str | None, typer.Option(help="Cluster this column's vectors instead of the features.")
    ] = None,
) -> None:
    """DBSCAN over the misclassified items; each cluster with its size and exemplars."""
    with open_ws() as ws:
        found = ws.analyze.clusters(
            ref, on=on, dataset=data, purpose=purpose, min_samples=min_samples, eps=eps,
            embedding=embedding,
        )  # fmt: skip

    def render(out: Console) -> None:
        from rich.table import Table

        eps_text = "" if found.eps is None else f", eps {found.eps:.3g}"
        out.print(f"{found.errors} mistakes of {found.model} on {found.dataset} {found.split}, "
                  f"clustered in {found.space}{eps_text}; {found.noise} as noise")  # fmt: skip
        if not found.clusters:
            out.print(f"No cluster: {found.explanation}")
            return
        table = Table("cluster", "size", "share", "confusion", "stands out on", "exemplars")
        for c in found.clusters:
            confusion = f"{c.confusions[0][0]}→{c.confusions[0][1]}" if c.confusions else ""
            features = ", ".join(f"{f.feature} {f.z:+.1f}σ" for f in c.features)
            table.add_row(str(c.id), str(c.size), _pct(c.share), confusion, features,
                          ", ".join(c.exemplars[:3]))  # fmt: skip
        out.print(table)

    emit(found.to_dict(), render)


@app.command("compare")
def compare_command(
    before: Annotated[str, typer.Argument(help="The older model, NAME@vN.")],
    after: Annotated[str, typer.Argument(help="The newer model, NAME@vN.")],
    on: On = "val",
    data: Data = None,
    purpose: Purpose = None,
) -> None:
    """Items fixed, items broken and per-slice deltas from BEFORE to AFTER."""
    with open_ws() as ws:
        found = ws.analyze.compare(before, after, on=on, dataset=data, purpose=purpose)

    def render(out: Console) -> None:
        from rich.table import Table

        out.print(
            f"{found.before} → {found.after} on {found.dataset} {found.split} ({found.rows} rows):"
            f" accuracy {_pct(found.accuracy_before)} → {_pct(found.accuracy_after)}; "
            f"{len(found.fixed)} fixed, {len(found.broken)} broken"
        )
        if found.broken:
            out.print("Broken: " + ", ".join(found.broken[:20]))
        table = Table("slice", "rows", "before", "after", "delta")
        for s in found.slices:
            delta = "" if s.delta is None else f"{100 * s.delta:+.1f} pt"
            table.add_row(s.name, str(s.rows), _pct(s.before), _pct(s.after), delta)
        out.print(table)

    emit(found.to_dict(), render)


def _load_link(spec: str) -> Link | None:
    """``module:function`` imported from the current folder or the installed packages."""
    import importlib
    import os
    import sys

    from flywheel_ml.errors import InvalidInputError

    if spec in ("", "-", "default"):
        return None
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise InvalidInputError(f"link {spec!r} is not MODULE:FUNCTION",
                                hint="e.g. --link mylinks:ocr_to_classifier")  # fmt: skip
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        link: Any = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise InvalidInputError(f"cannot import link {spec!r}: {exc}",
                                hint="check the module and function name") from None  # fmt: skip
    if not callable(link):
        raise InvalidInputError(f"link {spec!r} is not callable", hint="name a function")
    return link  # type: ignore[no-any-return]


@app.command("pipeline")
def pipeline_command(
    refs: Annotated[list[str], typer.Argument(help="The models in pipeline order, NAME@vN.")],
    data: Annotated[str, typer.Option("--data", help="Dataset version with every truth.")],
    truth: Annotated[
        list[str],
        typer.Option(help="Per model, in order: the column with the truth of its output."),
    ],
    link: Annotated[
        list[str] | None,
        typer.Option(
            help="Per model, in order: MODULE:FUNCTION building its input from (frame, "
            "upstream output), or '-' for the default (upstream output replaces the upstream "
            "truth column)."
        ),
    ] = None,
    on: On = "val",
    purpose: Purpose = None,
) -> None:
    """Per-stage and end-to-end accuracy, and what each stage's errors cost the whole."""
    links = [_load_link(s) for s in link or []]
    with open_ws() as ws:
        found = ws.analyze.pipeline(
            refs, dataset=data, truths=truth, links=links, on=on, purpose=purpose
        )

    def render(out: Console) -> None:
        from rich.table import Table

        out.print(f"{found.name} on {found.dataset} ({found.rows} rows): end to end "
                  f"{_pct(found.end_to_end)}")  # fmt: skip
        table = Table("stage", "accuracy", "with perfect input", "whole if perfect", "its cost")
        for s in found.stages:
            table.add_row(s.name, _pct(s.accuracy), _pct(s.isolated_accuracy),
                          _pct(s.upper_bound), f"{100 * s.cost:+.1f} pt")  # fmt: skip
        out.print(table)

    emit(found.to_dict(), render)


@app.command("features")
def features_command(
    ref: Ref,
    on: On = "val",
    data: Data = None,
    repeats: Annotated[int, typer.Option(help="Shuffles per feature.")] = 5,
    min_gain: Annotated[
        float, typer.Option(help="Accuracy a feature must be worth to be kept.")
    ] = 0.0,
    record: Annotated[bool, typer.Option(help="Record the proposed removal as a decision.")] = True,
    reason: Annotated[str, typer.Option(help="Why (kept with the decision).")] = "",
) -> None:
    """Permutation importance per feature; features that do not help are listed for removal
    and the removal is recorded as a decision."""
    with open_ws() as ws:
        found = ws.analyze.features(
            ref, on=on, dataset=data, repeats=repeats, min_gain=min_gain, record=record,
            reason=reason,
        )  # fmt: skip

    def render(out: Console) -> None:
        from rich.table import Table

        table = Table("feature", "importance", "std", "helps")
        for f in found.features[:20]:
            table.add_row(f.feature, f"{f.mean:.4f}", f"{f.std:.4f}", "yes" if f.helps else "no")
        out.print(table)
        if len(found.features) > 20:
            out.print(f"({len(found.features) - 20} more; --json lists all)")
        if found.remove:
            out.print(f"Proposed for removal ({len(found.remove)}): " + ", ".join(found.remove))
        if found.decision:
            out.print(f"Recorded as decision {found.decision[-8:]}.")

    emit(found.to_dict(), render)
