"""``flywheel track``: list, show, compare, rank, plot, delete and restore runs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from flywheel_ml.cli.context import emit, open_ws

if TYPE_CHECKING:
    from rich.console import Console

    from flywheel_ml.track.entities import Run

app = typer.Typer(
    help="Experiment runs: params, metric curves, artifacts, lineage.", no_args_is_help=True
)


def run_json(run: Run, *, full: bool = False) -> dict[str, Any]:
    """The ``--json`` form of a run."""
    from flywheel_ml.backends.sql.track_rows import lineage_to_json

    doc: dict[str, Any] = {
        "id": run.id,
        "name": run.name,
        "status": run.status,
        "started_at": run.started_at,
        "ended_at": run.ended_at,
        "params": dict(run.params),
        "metrics": dict(run.metrics),
        "tags": dict(run.tags),
        "datasets": list(run.datasets),
        "deleted": run.deleted,
        "created_by": run.created_by,
    }
    if full:
        doc["lineage"] = lineage_to_json(run.lineage)
        doc["summaries"] = {
            k: {"last": s.last, "step": s.step, "min": s.min, "max": s.max, "count": s.count}
            for k, s in run.summaries.items()
        }
    return doc


def _when(run: Run) -> str:
    return f"{run.started_at:%Y-%m-%d %H:%M}"


def _duration(run: Run) -> str:
    seconds = run.duration_s
    return "" if seconds is None else f"{seconds:.1f}s"


@app.command("list")
def list_command(
    where: Annotated[
        str | None,
        typer.Option(help='Filter, e.g. "metrics.val_accuracy > 0.9 and params.C < 10".'),
    ] = None,
    sort: Annotated[
        str | None, typer.Option(help="Sort key, '-' for descending: -metrics.val_accuracy.")
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many runs.")] = 50,
    offset: Annotated[int, typer.Option(help="Skip this many runs (pagination).")] = 0,
    deleted: Annotated[bool, typer.Option("--deleted", help="List deleted runs.")] = False,
) -> None:
    """List runs (newest first) with their latest metrics."""
    with open_ws() as ws:
        runs = ws.track.list_runs(
            where, order_by=sort, limit=limit, offset=offset, only_deleted=deleted
        )
        total = ws.track.count_runs(where, include_deleted=deleted)
    data = {"total": total, "offset": offset, "runs": [run_json(r) for r in runs]}

    def render(out: Console) -> None:
        from rich.table import Table

        if not runs:
            out.print("No runs match." if where else "No runs yet: flywheel run -- python train.py")
            return
        metric_names = _shown_metrics(runs, sort)
        table = Table("id", "name", "status", "started (UTC)", "took", *metric_names)
        for run in runs:
            values = [_fmt(run.metrics.get(m)) for m in metric_names]
            table.add_row(run.short_id, run.name, run.status, _when(run), _duration(run), *values)
        out.print(table)
        out.print(f"{offset + 1}-{offset + len(runs)} of {total} run(s)")

    emit(data, render)


def _shown_metrics(runs: list[Run], sort: str | None) -> list[str]:
    counts: dict[str, int] = {}
    for run in runs:
        for key in run.metrics:
            counts[key] = counts.get(key, 0) + 1
    names = sorted(counts, key=lambda k: (-counts[k], k))[:4]
    if sort and "metrics." in sort:
        key = sort.split("metrics.", 1)[1].rstrip(")")
        names = [key, *[n for n in names if n != key]][:4]
    return names


def _fmt(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


@app.command("show")
def show_command(run_id: Annotated[str, typer.Argument(help="Run id or its prefix.")]) -> None:
    """Show one run: params, metrics, tags, datasets, lineage and artifacts."""
    with open_ws() as ws:
        run = ws.track.get_run(run_id)
        artifacts = ws.track.list_artifacts(run.id)
    data = run_json(run, full=True)
    data["artifacts"] = [
        {"name": a.name, "kind": a.kind, "digest": a.digest, "size": a.size, "meta": dict(a.meta)}
        for a in artifacts
    ]

    def render(out: Console) -> None:
        from rich.table import Table

        out.print(
            f"[bold]{run.name}[/] {run.id}  {run.status}{'  (deleted)' if run.deleted else ''}"
        )
        out.print(
            f"started {run.started_at:%Y-%m-%d %H:%M:%S} UTC by {run.created_by}, "
            f"took {_duration(run) or '-'}"
        )
        if run.params:
            out.print("params: " + ", ".join(f"{k}={v}" for k, v in run.params.items()))
        if run.tags:
            out.print("tags: " + ", ".join(f"{k}={v}" for k, v in run.tags.items()))
        if run.datasets:
            out.print("datasets: " + ", ".join(run.datasets))
        if run.summaries:
            table = Table("metric", "last", "step", "min", "max", "points")
            for key, s in run.summaries.items():
                table.add_row(
                    key, _fmt(s.last), str(s.step), _fmt(s.min), _fmt(s.max), str(s.count)
                )
            out.print(table)
        lineage = run.lineage
        dirty = " +diff" if lineage.git_dirty else ""
        seed = "-" if lineage.seed is None else lineage.seed
        out.print(
            f"lineage: git {lineage.git_commit[:12] or '-'}{dirty}, python {lineage.python}, "
            f"packages {lineage.packages_digest[7:19]}, host {lineage.host}, seed {seed}"
        )
        out.print("command: " + " ".join(lineage.command))
        for a in artifacts:
            out.print(f"artifact: {a.name} ({a.kind}, {a.size:,} bytes) {a.digest[:19]}")

    emit(data, render)


@app.command("compare")
def compare_command(
    run_ids: Annotated[list[str], typer.Argument(help="Two or more run ids.")],
    all_params: Annotated[
        bool, typer.Option("--all", help="Show every param, not only those that differ.")
    ] = False,
) -> None:
    """Runs side by side: params that differ, metrics, lineage differences."""
    with open_ws() as ws:
        comparison = ws.track.compare(run_ids, differing_only=not all_params)
    runs = comparison.runs
    data = {
        "runs": [run_json(r) for r in runs],
        "params": {k: list(v) for k, v in comparison.params.items()},
        "metrics": {k: list(v) for k, v in comparison.metrics.items()},
        "lineage": {k: [str(x) for x in v] for k, v in comparison.lineage.items()},
    }

    def render(out: Console) -> None:
        from rich.table import Table

        table = Table("", *[f"{r.name} ({r.short_id})" for r in runs])
        for key, values in comparison.params.items():
            table.add_row(f"params.{key}", *[_fmt(v) for v in values])
        for key, metric_values in comparison.metrics.items():
            table.add_row(f"metrics.{key}", *[_fmt(v) for v in metric_values])
        for key, lineage_values in comparison.lineage.items():
            table.add_row(f"lineage.{key}", *[str(v)[:40] for v in lineage_values])
        out.print(table)

    emit(data, render)


@app.command("leaderboard")
def leaderboard_command(
    where: Annotated[str | None, typer.Option(help="Only runs matching this filter.")] = None,
    prefix: Annotated[
        str | None,
        typer.Option(
            help="Look metrics up as PREFIX<metric> (default: <metric>, then val_<metric>)."
        ),
    ] = None,
    limit: Annotated[int, typer.Option(help="Show this many runs.")] = 20,
) -> None:
    """Runs ranked by the project objective; constraint breaks are marked."""
    from flywheel_ml.track.leaderboard import entry_json

    with open_ws() as ws:
        page = ws.plan.get()
        entries = ws.track.leaderboard(where, metric_prefix=prefix, limit=limit)
    data = {
        "objective": str(page.objective),
        "constraints": [str(c) for c in page.constraints],
        "entries": [entry_json(e, run_json(e.run)) for e in entries],
    }

    def render(out: Console) -> None:
        from rich.table import Table

        constraints = ", ".join(map(str, page.constraints)) or "none"
        out.print(f"objective: {page.objective}; constraints: {constraints}")
        table = Table("#", "id", "name", str(page.objective), "constraints")
        for e in entries:
            if e.passed:
                mark = "all met"
            else:
                breaks = [f"✗ {c}" for c in e.failed_constraints]
                breaks += [f"? {c} (not measured)" for c in e.unmeasured_constraints]
                mark = "; ".join(breaks) or "-"
            table.add_row(str(e.rank), e.run.short_id, e.run.name, _fmt(e.objective_value), mark)
        out.print(table if entries else "No runs to rank yet.")

    emit(data, render)


@app.command("plot")
def plot_command(
    run_ids: Annotated[list[str], typer.Argument(help="One or more run ids.")],
    metric: Annotated[str, typer.Option(help="The metric to draw.")] = "loss",
    out: Annotated[Path, typer.Option(help="Output file: .html (offline) or .png.")] = Path(
        "metrics.html"
    ),
) -> None:
    """Draw a metric's curve for one or more runs (interactive offline HTML, or PNG)."""
    from flywheel_ml.reports.metric_plot import Curve, write_metric_plot

    with open_ws() as ws:
        curves = []
        for run_id in run_ids:
            run = ws.track.get_run(run_id)
            curves.append(
                Curve(f"{run.name} ({run.short_id})", ws.track.metric_series(run.id, metric))
            )
    path = write_metric_plot(curves, out, title=metric)
    data = {"out": str(path), "metric": metric, "points": {c.label: len(c.series) for c in curves}}
    emit(data, lambda console: console.print(f"Wrote {path}"))


@app.command("delete")
def delete_command(run_id: Annotated[str, typer.Argument(help="Run id or prefix.")]) -> None:
    """Delete a run (hidden from lists and the leaderboard; `track restore` brings it back)."""
    with open_ws() as ws:
        run = ws.track.delete_run(run_id)
    emit(run_json(run), lambda out: out.print(f"Deleted run {run.short_id} ({run.name})."))


@app.command("restore")
def restore_command(run_id: Annotated[str, typer.Argument(help="Run id or prefix.")]) -> None:
    """Restore a deleted run."""
    with open_ws() as ws:
        run = ws.track.restore_run(run_id)
    emit(run_json(run), lambda out: out.print(f"Restored run {run.short_id} ({run.name})."))
