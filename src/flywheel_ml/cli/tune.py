"""``flywheel tune``: overfit check, learning curve, diagnosis, coarse-to-fine search, studies."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from flywheel_ml.cli.context import emit, fail, open_ws, progress

if TYPE_CHECKING:
    from rich.console import Console

app = typer.Typer(
    help="Overfit check, learning curves, bias/variance diagnosis, hyper-parameter search.",
    no_args_is_help=True,
)

ConfigArg = Annotated[Path, typer.Argument(help="Experiment config file (YAML).")]


@app.command("overfit")
def overfit_command(
    config: ConfigArg,
    batch: Annotated[int, typer.Option(help="Rows in the batch to overfit.")] = 64,
    threshold: Annotated[float, typer.Option(help="Train score that counts as fitted.")] = 0.99,
) -> None:
    """Train on one small batch and score on it: passes when the model fits it (exit 1 if not)."""
    from flywheel_ml.tune import load_config

    parsed = load_config(config)
    with open_ws() as ws:
        check = ws.tune.overfit(parsed, batch_size=batch, threshold=threshold)
    data = {
        "run_id": check.run_id,
        "batch_size": check.batch_size,
        "metric": check.metric,
        "train_score": check.train_score,
        "threshold": check.threshold,
        "passed": check.passed,
    }

    def render(out: Console) -> None:
        verdict = "[green]PASS[/]" if check.passed else "[red]FAIL[/]"
        out.print(
            f"{verdict} train {check.metric} {check.train_score:.4f} on {check.batch_size} "
            f"rows (needs >= {check.threshold}); run {check.run_id[-8:]}"
        )
        if not check.passed:
            out.print(
                "  the model cannot fit even one batch: check capacity, regularisation, "
                "features and labels before training on everything"
            )

    emit(data, render)
    if not check.passed:
        fail(1)


@app.command("learning-curve")
def learning_curve_command(
    config: ConfigArg,
    sizes: Annotated[str, typer.Option(help="Shares of the train split.")] = "0.1,0.25,0.5,1.0",
    plot: Annotated[
        Path | None,
        typer.Option(help="Plot file, .html or .png (default reports/curve-RUN.html)."),
    ] = None,
) -> None:
    """Train on growing shares of the data; plot train/val scores; say if more data helps."""
    from flywheel_ml.errors import InvalidInputError
    from flywheel_ml.reports.tune_plots import check_plot_file, write_learning_curve
    from flywheel_ml.tune import load_config

    if plot is not None:
        check_plot_file(plot)  # a bad name fails before any training
    try:
        fractions = [float(s) for s in sizes.split(",") if s.strip()]
    except ValueError as exc:
        raise InvalidInputError(f"bad --sizes {sizes!r}", hint="e.g. 0.1,0.25,0.5,1.0") from exc
    parsed = load_config(config)
    with open_ws() as ws, progress("training", total=len(fractions)) as advance:
        curve = ws.tune.learning_curve(parsed, sizes=fractions, progress=advance)
        out_path = plot or ws.root / "reports" / f"curve-{curve.run_id[-8:]}.html"
    write_learning_curve(curve, out_path)
    data = {
        "run_id": curve.run_id,
        "metric": curve.metric,
        "verdict": curve.verdict,
        "more_data_helps": curve.more_data_helps,
        "plot": str(out_path),
        "points": [
            {"fraction": p.fraction, "rows": p.rows, "train": p.train_score, "val": p.val_score}
            for p in curve.points
        ],
    }

    def render(out: Console) -> None:
        from rich.table import Table

        table = Table("share", "rows", f"train {curve.metric}", f"val {curve.metric}")
        for p in curve.points:
            table.add_row(
                f"{p.fraction:g}", f"{p.rows:,}", f"{p.train_score:.4f}", f"{p.val_score:.4f}"
            )
        out.print(table)
        out.print(f"verdict: {curve.verdict}")
        out.print(f"plot: {out_path}")

    emit(data, render)


@app.command("diagnose")
def diagnose_command(
    run_id: Annotated[str, typer.Argument(help="Run id or its last characters.")],
    metric: Annotated[str | None, typer.Option(help="Metric (default: the objective).")] = None,
    human: Annotated[
        float | None, typer.Option(help="Human score (default: the recorded human baseline).")
    ] = None,
) -> None:
    """Avoidable bias, variance and data mismatch of a run; the dominant gap and its remedies."""
    with open_ws() as ws:
        found = ws.tune.diagnose(run_id, metric=metric, human=human)
    data = {
        "run_id": found.run_id,
        "metric": found.metric,
        "human_error": found.human_error,
        "human_source": found.human_source,
        "train_error": found.train_error,
        "train_dev_error": found.train_dev_error,
        "val_error": found.val_error,
        "gaps": dict(found.gaps),
        "dominant": found.dominant,
        "remedies": list(found.remedies),
        "notes": list(found.notes),
    }

    def render(out: Console) -> None:
        out.print(f"run {found.run_id[-8:]} ({found.metric}); errors:")
        out.print(f"  human {found.human_error:.4f} ({found.human_source})")
        out.print(f"  train {found.train_error:.4f}")
        if found.train_dev_error is not None:
            out.print(f"  train-dev {found.train_dev_error:.4f}")
        out.print(f"  val {found.val_error:.4f}")
        for name, gap in found.gaps.items():
            mark = "  <- dominant" if name == found.dominant else ""
            out.print(f"  {name.replace('_', ' ')}: {gap:+.4f}{mark}")
        title = "no dominant gap" if found.dominant == "none" else found.dominant.replace("_", " ")
        out.print(f"[bold]{title}[/]; try:")
        for remedy in found.remedies:
            out.print(f"  - {remedy}")
        for note in found.notes:
            out.print(f"  note: {note}")

    emit(data, render)


@app.command("search")
def search_command(
    config: ConfigArg,
    trials: Annotated[int, typer.Option(help="Finished trials wanted in total.")] = 20,
    study: Annotated[
        str | None, typer.Option(help="Study name (default: the file's stem).")
    ] = None,
    jobs: Annotated[int, typer.Option(help="Worker processes (or local Dask workers).")] = 1,
    dask: Annotated[
        str | None, typer.Option(help="Dask scheduler address, or 'local' for a LocalCluster.")
    ] = None,
    timeout: Annotated[float | None, typer.Option(help="Stop starting trials after N s.")] = None,
    coarse: Annotated[float, typer.Option(help="Share of trials in the random stage.")] = 0.5,
) -> None:
    """Coarse random search over the config's space, then TPE in the region of the best trials.
    Every trial is a run; re-running the command resumes the study."""
    from flywheel_ml.tune import load_config

    parsed = load_config(config)
    name = study or config.stem
    with open_ws() as ws, progress("searching", total=trials) as advance:
        result = ws.tune.search(
            parsed,
            study=name,
            n_trials=trials,
            jobs=jobs,
            dask=dask,
            timeout=timeout,
            coarse_fraction=coarse,
            progress=advance,
        )
    data = {
        "study": result.study,
        "metric": result.metric,
        "direction": result.direction,
        "n_trials": result.n_trials,
        "completed": result.completed,
        "ran_now": result.ran_now,
        "best_value": result.best_value,
        "best_params": result.best_params,
        "best_run_id": result.best_run_id,
        "fine_space": result.fine_space,
    }

    def render(out: Console) -> None:
        out.print(
            f"study [bold]{result.study}[/]: {result.completed}/{result.n_trials} trials "
            f"finished ({result.ran_now} now)"
        )
        if result.best_value is not None:
            out.print(
                f"best val {result.metric} {result.best_value:.4f} with "
                + ", ".join(f"{k}={v}" for k, v in result.best_params.items())
                + f" (run {str(result.best_run_id)[-8:]})"
            )
        out.print(f"see `flywheel tune show {result.study}`")

    emit(data, render)


@app.command("show")
def show_command(
    study: Annotated[str | None, typer.Argument(help="Study name (none: list studies).")] = None,
    plots: Annotated[
        Path | None, typer.Option(help="Folder for the HTML plots (default reports/STUDY/).")
    ] = None,
    png: Annotated[
        bool, typer.Option("--png", help="Also write each plot as a PNG (needs a Chromium).")
    ] = False,
) -> None:
    """A study's trials, best trial, parameter importance and plots; or every study."""
    with open_ws() as ws:
        if study is None:
            studies = ws.tune.list_studies()
            listing = [
                {
                    "name": s.name,
                    "metric": s.metric,
                    "n_trials": s.n_trials,
                    "created_at": s.created_at,
                }
                for s in studies
            ]

            def render_list(out: Console) -> None:
                if not listing:
                    out.print("No studies yet: flywheel tune search configs/example.yaml")
                for s in listing:
                    out.print(
                        f"{s['name']}: {s['n_trials']} trials, val {s['metric']}, "
                        f"{s['created_at']:%Y-%m-%d %H:%M}"
                    )

            emit({"studies": listing}, render_list)
            return
        report = ws.tune.study_report(study)
        folder = plots or ws.root / "reports" / study
        from flywheel_ml.reports.tune_plots import write_study_plots

        written = write_study_plots(report.handle, folder, png=png)
    data: dict[str, Any] = {**report.summary, "plots": {k: str(v) for k, v in written.items()}}

    def render(out: Console) -> None:
        from rich.table import Table

        s = report.summary
        out.print(
            f"study [bold]{s['study']}[/]: val {s['metric']} ({s['direction']}), "
            f"{s['completed']}/{s['n_trials']} trials finished"
        )
        table = Table("#", "stage", "state", f"val {s['metric']}", "params", "run")
        for t in s["trials"]:
            value = "" if t["value"] is None else f"{t['value']:.4f}"
            params = ", ".join(f"{k}={_short(v)}" for k, v in t["params"].items())
            table.add_row(
                str(t["number"]), t["stage"], t["state"], value, params, str(t["run_id"] or "")[-8:]
            )
        out.print(table)
        if s["best"]:
            out.print(
                f"best: trial {s['best']['number']} val {s['metric']} {s['best']['value']:.4f}"
            )
        if s["importance"]:
            out.print(
                "importance: " + ", ".join(f"{k} {v:.2f}" for k, v in s["importance"].items())
            )
        for kind, path in written.items():
            out.print(f"plot {kind}: {path}")

    emit(data, render)


def _short(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
