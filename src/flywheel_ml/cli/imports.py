"""``flywheel import``: bring another tool's records into the workspace (MLflow today)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from flywheel_ml.cli.context import emit, open_ws, progress
from flywheel_ml.errors import InvalidInputError

if TYPE_CHECKING:
    from rich.console import Console

app = typer.Typer(
    help="Import runs and registered models from another tracker (MLflow).", no_args_is_help=True
)


def _roots(pairs: list[str]) -> dict[str, str]:
    roots = {}
    for pair in pairs:
        old, sep, new = pair.partition("=")
        if not sep or not old or not new:
            raise InvalidInputError(
                f"--artifact-root wants OLD=NEW, not {pair!r}",
                hint="e.g. --artifact-root /srv/mlflow=/mnt/copy-of-mlflow",
            )
        roots[old] = new
    return roots


@app.command("mlflow")
def mlflow_command(
    tracking_uri: Annotated[
        str,
        typer.Option(
            "--tracking-uri",
            help="MLflow's tracking URI: an SQL store (sqlite:///mlflow.db, postgresql://...), "
            "a file store (./mlruns) or a tracking server (http://host:5000).",
        ),
    ],
    reader: Annotated[
        str,
        typer.Option(
            help="auto: SQLite/PostgreSQL read directly, anything else through MLflow's client; "
            "sql; or client (needs flywheel-ml[mlflow]).",
        ),
    ] = "auto",
    artifact_root: Annotated[
        list[str] | None,
        typer.Option(
            help="OLD=NEW: read artifacts recorded under OLD from NEW (a copied store); repeatable."
        ),
    ] = None,
    experiment: Annotated[
        list[str] | None,
        typer.Option(help="Import only this experiment (by name); repeatable."),
    ] = None,
) -> None:
    """Import experiments' runs (params, metric histories, tags, artifacts), registered models
    saved with skops, and their aliases. Importing again skips what is already here."""
    from flywheel_ml.backends.mlflow_import import import_mlflow
    from flywheel_ml.backends.mlflow_sources import open_mlflow_source
    from flywheel_ml.backends.sql.track_store import SqlTrackStore

    roots = _roots(artifact_root or [])
    source = open_mlflow_source(tracking_uri, artifact_roots=roots, reader=reader)
    try:
        with open_ws() as ws, progress("importing MLflow runs") as advance:
            report = import_mlflow(
                source,
                track=ws.track,
                store=SqlTrackStore(ws.database),
                objects=ws.objects,
                registry=ws.registry,
                experiments=experiment or (),
                progress=advance,
            )
    finally:
        source.close()

    def render(out: Console) -> None:
        for run in report.runs:
            out.print(
                f"run {run.run_id[-8:]}  {run.name}  ({run.experiment}, {run.status}, "
                f"{run.points} points, {run.artifacts} artifacts)  <- {run.mlflow_id}"
            )
        for mlflow_ref, ref in report.versions:
            out.print(f"model {ref}  <- {mlflow_ref}")
        for alias in report.aliases:
            out.print(f"alias {alias}")
        for item in report.skipped:
            out.print(f"skipped {item.what}: {item.reason}")
        out.print(
            f"Imported {len(report.runs)} run(s), {len(report.versions)} model version(s), "
            f"{len(report.aliases)} alias(es); {report.already_imported} run(s) were already "
            f"here; {len(report.skipped)} item(s) skipped."
        )

    emit(
        {
            "runs": [
                {
                    "mlflow_id": r.mlflow_id,
                    "run_id": r.run_id,
                    "name": r.name,
                    "experiment": r.experiment,
                    "status": r.status,
                    "points": r.points,
                    "artifacts": r.artifacts,
                }
                for r in report.runs
            ],
            "already_imported": report.already_imported,
            "versions": [{"mlflow": m, "ref": ref} for m, ref in report.versions],
            "aliases": list(report.aliases),
            "skipped": [{"what": s.what, "reason": s.reason} for s in report.skipped],
        },
        render,
    )
