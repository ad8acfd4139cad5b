"""The tune stage's page: baselines (floor and ceiling), studies with their trial history and
parameter importance, learning curves with their verdicts, and the diagnosis of the latest
trained run."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from flywheel_ml.errors import FlywheelError
from flywheel_ml.server import pages
from flywheel_ml.server.charts import downsample, line_chart
from flywheel_ml.workspace import Workspace

_MAX_CURVES = 3
_TRIVIAL = {"majority", "stratified", "mean"}


def tune_data(ws: Workspace, study: str = "") -> dict[str, Any]:
    """Everything the page shows, as JSON-ready data (``charts`` hold the drawn charts)."""
    tune = ws.tune
    newest: dict[str, Any] = {}
    for run in tune.baseline_runs():
        newest.setdefault(run.tags.get("baseline", run.name), run)
    baselines = []
    for name, run in newest.items():
        value = run.metrics.get("val_accuracy", run.metrics.get("val_r2"))
        role = "ceiling" if name == "human" else "floor" if name in _TRIVIAL else ""
        baselines.append(
            {"name": name, "run_id": run.id, "short_id": run.short_id, "value": value, "role": role}
        )
    baselines.sort(key=lambda b: -(b["value"] if b["value"] is not None else -1e9))
    studies = [
        {"name": s.name, "metric": s.metric, "n_trials": s.n_trials, "created_at": s.created_at}
        for s in tune.list_studies()
    ]
    chosen = study or (str(studies[0]["name"]) if studies else "")
    report = tune.study_report(chosen).summary if chosen else None
    charts: dict[str, Any] = {}
    if report and report["trials"]:
        done = [t for t in report["trials"] if t["value"] is not None]
        best: list[float] = []
        for t in done:
            better = max if report["direction"] == "max" else min
            best.append(t["value"] if not best else better(best[-1], t["value"]))
        numbers = [t["number"] for t in done]
        charts["history"] = line_chart(
            [
                downsample("trial", numbers, [t["value"] for t in done]),
                downsample("best so far", numbers, best),
            ],
            title="Search history",
            x_title="trial",
            y_title=f"val {report['metric']}",
        )
    curves = []
    for run in ws.track.list_runs("tags.kind = learning_curve and status = finished")[:_MAX_CURVES]:
        metric = next((k[4:] for k in run.metrics if k.startswith("val_")), "accuracy")
        rows = ws.track.metric_series(run.id, "rows").values
        train = ws.track.metric_series(run.id, f"train_{metric}").values
        val = ws.track.metric_series(run.id, f"val_{metric}").values
        curves.append(
            {
                "run_id": run.id,
                "name": run.name,
                "short_id": run.short_id,
                "verdict": run.tags.get("verdict", ""),
                "metric": metric,
                "rows": rows.tolist(),
                "train": train.tolist(),
                "val": val.tolist(),
            }
        )
        charts[f"curve-{run.short_id}"] = line_chart(
            [downsample("train", rows, train), downsample("val", rows, val)],
            title=f"Learning curve {run.name}",
            x_title="training rows",
            y_title=metric,
        )
    diagnosis = None
    trained = ws.track.list_runs("tags.kind = train and status = finished", limit=1)
    if trained:
        try:
            found = tune.diagnose(trained[0].id)
        except FlywheelError:
            found = None
        if found is not None:
            diagnosis = {
                "run_id": found.run_id,
                "run_name": trained[0].name,
                "metric": found.metric,
                "human_error": found.human_error,
                "human_source": found.human_source,
                "train_error": found.train_error,
                "train_dev_error": found.train_dev_error,
                "val_error": found.val_error,
                "gaps": dict(found.gaps),
                "dominant": found.dominant,
                "remedies": list(found.remedies),
            }
    return {
        "baselines": baselines,
        "studies": studies,
        "study": report,
        "curves": curves,
        "diagnosis": diagnosis,
        "charts": charts,
    }


def tune_page(request: Request) -> Response:
    study = pages.query_text(request, "study", limit=100)
    data = tune_data(pages.workspace(request), study)
    return pages.render(request, "tune/tune.html", data, stage="tune")


def api_tune(request: Request) -> Response:
    """Tune.
    ---
    summary: Baselines, studies (trials, importance), learning curves and the latest diagnosis
    parameters:
      - {name: study, in: query, required: false, schema: {type: string}}
    responses: {200: {description: the tune stage's records}}
    """
    study = pages.query_text(request, "study", limit=100)
    data = tune_data(pages.workspace(request), study)
    data.pop("charts")
    return pages.json_response(data)


def routes() -> list[BaseRoute]:
    """The tune stage's page and its JSON."""
    return [
        Route("/ui/tune", tune_page, include_in_schema=False),
        Route("/api/v1/tune", api_tune),
    ]
