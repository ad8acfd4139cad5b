"""``flywheel registry``: register, evaluate, alias, history, card, list, show, delete, export."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from flywheel_ml.cli.context import emit, fail, open_ws

if TYPE_CHECKING:
    from rich.console import Console

    from flywheel_ml.registry.entities import Evaluation

app = typer.Typer(
    help="Model versions: register from a run, gated sealed-test evaluation, aliases, cards.",
    no_args_is_help=True,
)


@app.command("register")
def register_command(
    run: Annotated[str, typer.Argument(help="The run id (or its first 8 characters).")],
    name: Annotated[str, typer.Option("--name", help="The model name, e.g. digits-clf.")],
    artifact: Annotated[str, typer.Option(help="The run's model artifact.")] = "model",
    trust: Annotated[
        list[str] | None,
        typer.Option(
            help="A type to trust beyond skops' defaults; repeatable. Only trust code you know."
        ),
    ] = None,
    description: Annotated[str, typer.Option(help="What this version is.")] = "",
) -> None:
    """Register the model a finished run logged as the next version of NAME."""
    from flywheel_ml.registry.records import version_to_json

    with open_ws() as ws:
        version = ws.registry.register(
            run, name=name, artifact=artifact, trusted=trust or (), description=description
        )

    def render(out: Console) -> None:
        out.print(
            f"Registered {version.ref} from run {version.run_id[-8:]} "
            f"(data {version.dataset or '-'}, commit {version.git_commit[:10] or '-'})."
        )

    emit(version_to_json(version), render)


@app.command("evaluate")
def evaluate_command(
    ref: Annotated[str, typer.Argument(help="NAME@vN or NAME@alias.")],
    reason: Annotated[
        str, typer.Option(help="Why the sealed test labels are read (recorded in the audit).")
    ] = "release evaluation",
    confidence: Annotated[
        float, typer.Option(help="Top-probability threshold of coverage and reject cases.")
    ] = 0.5,
    tolerance: Annotated[
        float, typer.Option(help="How much worse than the champion the objective may be.")
    ] = 0.0,
    dataset: Annotated[
        str | None, typer.Option(help="Dataset version to read instead of the training one.")
    ] = None,
) -> None:
    """Evaluate a version on the sealed test set; exit 1 when a constraint or gate fails."""
    from flywheel_ml.registry.records import evaluation_to_json

    with open_ws() as ws:
        evaluation = ws.registry.evaluate(
            ref, reason=reason, confidence=confidence, tolerance=tolerance, dataset=dataset
        )
    emit(evaluation_to_json(evaluation), lambda out: _render_evaluation(out, evaluation))
    if not evaluation.passed:
        fail(1)


def _render_evaluation(out: Console, e: Evaluation) -> None:
    verdict = "[green]PASSED[/]" if e.passed else "[red]FAILED[/]"
    out.print(f"{e.ref} on {e.rows} sealed test rows of {e.dataset}: {verdict}")
    if e.objective:
        value = "not measured" if e.objective_value is None else f"{e.objective_value:.4f}"
        out.print(f"  objective {e.objective} = {value}")
    for c in e.constraints:
        measured = "not measured" if c.measured is None else f"{c.measured:.4g}"
        out.print(f"  {'pass' if c.passed else 'FAIL'}  {c.constraint:<28} measured {measured}")
    for g in e.gates:
        out.print(f"  {'pass' if g.passed else 'FAIL'}  {g.gate}:{g.name:<20} {g.detail}")
    for name, metrics in sorted(e.slices.items()):
        found = metrics.get(e.objective or "accuracy")
        shown = "-" if found is None else f"{found:.4f}"
        out.print(f"  slice {name}: {int(metrics.get('rows', 0))} rows, {e.objective} {shown}")
    for name, metrics in sorted(e.test_sets.items()):
        found = metrics.get(e.objective or "accuracy")
        shown = "-" if found is None else f"{found:.4f}"
        out.print(f"  test set {name}: {int(metrics.get('rows', 0))} rows, {e.objective} {shown}")


@app.command("alias")
def alias_command(
    name: Annotated[str, typer.Argument(help="The model name.")],
    alias: Annotated[str, typer.Argument(help="The alias, e.g. champion or candidate.")],
    version: Annotated[str, typer.Argument(help="The version, e.g. v3 or 3.")],
    override: Annotated[
        bool, typer.Option("--override", help="Move it although the evaluation failed.")
    ] = False,
    reason: Annotated[str, typer.Option(help="Why (required with --override).")] = "",
) -> None:
    """Point NAME@ALIAS at a version; refused when its evaluation failed, unless overridden."""
    from flywheel_ml.registry.records import move_to_json

    with open_ws() as ws:
        move = ws.registry.set_alias(name, alias, version, reason=reason, override=override)

    def render(out: Console) -> None:
        before = "new" if move.from_version is None else f"was v{move.from_version}"
        extra = " (override)" if move.override else ""
        out.print(f"{name}@{alias} -> v{move.to_version} ({before}){extra}.")

    emit(move_to_json(move), render)


@app.command("unalias")
def unalias_command(
    name: Annotated[str, typer.Argument(help="The model name.")],
    alias: Annotated[str, typer.Argument(help="The alias to remove.")],
    reason: Annotated[str, typer.Option(help="Why.")] = "",
) -> None:
    """Remove NAME@ALIAS (the removal stays in the history)."""
    from flywheel_ml.registry.records import move_to_json

    with open_ws() as ws:
        move = ws.registry.remove_alias(name, alias, reason=reason)
    emit(move_to_json(move), lambda out: out.print(f"Removed {name}@{alias}."))


@app.command("history")
def history_command(name: Annotated[str, typer.Argument(help="The model name.")]) -> None:
    """Every alias move of a model: who, when, from, to, why."""
    from flywheel_ml.registry.records import move_to_json

    with open_ws() as ws:
        moves = ws.registry.alias_history(name)

    def render(out: Console) -> None:
        if not moves:
            out.print(f"No alias of {name} has been set.")
        for m in moves:
            before = "-" if m.from_version is None else f"v{m.from_version}"
            after = "removed" if m.to_version is None else f"v{m.to_version}"
            why = f"  {m.reason}" if m.reason else ""
            flag = " [override]" if m.override else ""
            out.print(
                f"{m.at:%Y-%m-%d %H:%M}  {m.actor:<12} {m.alias:<10} {before} -> {after}{flag}{why}"
            )

    emit([move_to_json(m) for m in moves], render)


@app.command("card")
def card_command(ref: Annotated[str, typer.Argument(help="NAME@vN or NAME@alias.")]) -> None:
    """Write the model card (Markdown and HTML) under the workspace's docs/."""
    from flywheel_ml.reports.model_card import write_model_card

    with open_ws() as ws:
        card = write_model_card(
            ws.registry.card_facts(ref), ws.root / "docs", readiness=ws.readiness(ref)
        )

    def render(out: Console) -> None:
        out.print(f"Wrote {card.markdown} and {card.html}.")

    emit({"markdown": str(card.markdown), "html": str(card.html)}, render)


@app.command("list")
def list_command(
    name: Annotated[str | None, typer.Argument(help="Only this model.")] = None,
    deleted: Annotated[bool, typer.Option("--deleted", help="Include deleted versions.")] = False,
) -> None:
    """Registered versions with their aliases and newest evaluation."""
    from flywheel_ml.registry.records import version_to_json

    with open_ws() as ws:
        versions = ws.registry.list_versions(name, include_deleted=deleted)
        aliases = {n: ws.registry.aliases(n) for n in {v.name for v in versions}}
        latest = {v.ref: ws.registry.latest_evaluation(v.ref) for v in versions}
    rows = []
    for v in versions:
        tags = sorted(a for a, n in aliases[v.name].items() if n == v.version)
        e = latest[v.ref]
        rows.append({
            **version_to_json(v), "aliases": tags,
            "evaluation": None if e is None else {"passed": e.passed, "at": e.at.isoformat(),
                                                  "objective_value": e.objective_value},
        })  # fmt: skip

    def render(out: Console) -> None:
        if not rows:
            out.print("No model versions yet: flywheel registry register RUN --name NAME")
        for row in rows:
            e = row["evaluation"]
            state = "not evaluated" if e is None else ("passed" if e["passed"] else "FAILED")
            tags = ",".join(row["aliases"]) or "-"
            gone = " [deleted]" if row["deleted"] else ""
            out.print(
                f"{row['ref']:<24} {tags:<18} {state:<14} run {row['run_id'][-8:]}  "
                f"data {row['dataset'] or '-'}{gone}"
            )

    emit(rows, render)


@app.command("show")
def show_command(ref: Annotated[str, typer.Argument(help="NAME@vN or NAME@alias.")]) -> None:
    """One version: lineage, aliases and its newest evaluation."""
    from flywheel_ml.registry.records import evaluation_to_json, version_to_json

    with open_ws() as ws:
        version = ws.registry.get_version(ref)
        aliases = sorted(a for a, n in ws.registry.aliases(version.name).items()
                         if n == version.version)  # fmt: skip
        evaluation = ws.registry.latest_evaluation(version.ref)
    data = {
        **version_to_json(version),
        "aliases": aliases,
        "evaluation": None if evaluation is None else evaluation_to_json(evaluation),
    }

    def render(out: Console) -> None:
        out.print(f"{version.ref}  {version.estimator}  {version.model_mb:.3f} MB")
        out.print(f"  aliases: {', '.join(aliases) or '-'}")
        out.print(f"  run {version.run_id}  data {version.dataset or '-'}")
        out.print(f"  commit {version.git_commit or '-'}  artifact {version.artifact_digest}")
        out.print(f"  registered {version.created_at:%Y-%m-%d %H:%M} by {version.created_by}")
        if version.deleted:
            out.print("  [deleted]")
        if evaluation is None:
            out.print(f"  not evaluated: flywheel registry evaluate {version.ref}")
        else:
            _render_evaluation(out, evaluation)

    emit(data, render)


@app.command("delete")
def delete_command(
    ref: Annotated[str, typer.Argument(help="NAME@vN.")],
    reason: Annotated[str, typer.Option(help="Why.")] = "",
) -> None:
    """Delete a version (it can no longer be loaded); its evaluations and history stay."""
    from flywheel_ml.registry.records import version_to_json

    with open_ws() as ws:
        version = ws.registry.delete_version(ref, reason=reason)
    emit(version_to_json(version), lambda out: out.print(f"Deleted {version.ref}."))


@app.command("export")
def export_command(
    ref: Annotated[str, typer.Argument(help="NAME@vN or NAME@alias.")],
    onnx: Annotated[bool, typer.Option("--onnx", help="Export to ONNX (skl2onnx).")] = False,
    out: Annotated[
        Path | None, typer.Option(help="Where to write the file (default NAME-vN.onnx here).")
    ] = None,
    rows: Annotated[int, typer.Option(help="Training rows to time both formats on.")] = 200,
) -> None:
    """Export a version to ONNX and record the single-row latency of both formats."""
    from flywheel_ml.errors import InvalidInputError

    if not onnx:
        raise InvalidInputError("choose an export format", hint="pass --onnx")
    with open_ws() as ws:
        export, data = ws.registry.export_onnx(ref, rows=rows)
    name, _, version = export.ref.partition("@")
    target = out or Path(f"{name}-{version}.onnx")
    target.write_bytes(data)

    def render(console: Console) -> None:
        console.print(f"Wrote {target} ({export.size / 1e3:.1f} kB) from {export.ref}.")
        console.print(
            f"  single-row latency p50/p95: skops {export.skops_p50_ms:.3f}/"
            f"{export.skops_p95_ms:.3f} ms, onnx {export.onnx_p50_ms:.3f}/"
            f"{export.onnx_p95_ms:.3f} ms; same answer on {export.agreement:.1%} "
            f"of {export.rows} rows"
        )

    emit({**asdict(export), "path": str(target)}, render)


@app.command("case")
def case_command(
    model: Annotated[str, typer.Argument(help="The model name.")],
    name: Annotated[str, typer.Argument(help="The case's name, e.g. blank-rejected.")],
    source: Annotated[
        Path, typer.Option("--from", help="CSV, Parquet or JSONL of items (feature columns).")
    ],
    expect: Annotated[str, typer.Option(help="The label every item should get, or 'reject'.")],
    min_score: Annotated[float, typer.Option(help="Share of items that must meet it.")] = 1.0,
    description: Annotated[str, typer.Option(help="Why the case exists.")] = "",
) -> None:
    """Save a behavioural case; every later evaluation of MODEL reports it as a gate."""
    from flywheel_ml.data.readers import read_table

    rows = read_table(source)
    with open_ws() as ws:
        case = ws.registry.add_case(
            model, name, rows, expect=expect, min_score=min_score, description=description
        )
    data = {"model": case.model, "name": case.name, "rows": case.rows, "expect": case.expect,
            "min_score": case.min_score, "rows_digest": case.rows_digest}  # fmt: skip
    emit(data, lambda out: out.print(f"Saved case {model}/{name}: {case.rows} item(s)."))
