"""The track stage's page of one run: params, lineage, artifacts (downloadable) and every
metric's curve, cut to ``points`` with largest-triangle-three-buckets."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from flywheel_ml.errors import NotFoundError
from flywheel_ml.server import pages
from flywheel_ml.server.charts import DEFAULT_POINTS, downsample, line_chart
from flywheel_ml.server.routes.track_json import curve_json, run_json
from flywheel_ml.workspace import Workspace

_MAX_CURVES = 12


def run_data(ws: Workspace, run_id: str, *, points: int = DEFAULT_POINTS) -> dict[str, Any]:
    """A run with its artifacts and every metric's curve (downsampled to ``points``)."""
    run = ws.track.get_run(run_id)
    curves = []
    for key in sorted(run.summaries)[:_MAX_CURVES]:
        if run.summaries[key].count < 2:
            continue
        series = ws.track.metric_series(run.id, key)
        line = downsample(run.name, series.steps, series.values, max_points=points)
        curves.append({"key": key, "line": line})
    artifacts = [
        {
            "name": a.name,
            "kind": a.kind,
            "digest": a.digest,
            "size": a.size,
            "created_at": a.created_at,
        }
        for a in ws.track.list_artifacts(run.id)
    ]
    return {"run": run_json(run, detail=True), "artifacts": artifacts, "curves": curves}


def run_page(request: Request) -> Response:
    """A run: params, metrics, lineage, datasets, artifacts and curves."""
    data = run_data(pages.workspace(request), request.path_params["run_id"])
    data["charts"] = [
        {"key": c["key"], "chart": line_chart([c["line"]], y_title=c["key"])}
        for c in data["curves"]
    ]
    return pages.render(request, "track/run.html", data, stage="track")


def api_run(request: Request) -> Response:
    """One run.
    ---
    summary: A run with params, metrics, lineage, artifacts and downsampled curves
    parameters:
      - {name: run_id, in: path, required: true, schema: {type: string}}
      - {name: points, in: query, schema: {type: integer, default: 1000}}
    responses:
      200: {description: the run}
      404: {description: no such run}
    """
    points = pages.query_int(request, "points", DEFAULT_POINTS, lo=3, hi=100_000)
    data = run_data(pages.workspace(request), request.path_params["run_id"], points=points)
    data["curves"] = [curve_json(c["key"], c["line"]) for c in data["curves"]]
    return pages.json_response(data)


def api_metric(request: Request) -> Response:
    """One metric of one run.
    ---
    summary: One metric's series, cut to `points` with largest-triangle-three-buckets
    parameters:
      - {name: run_id, in: path, required: true, schema: {type: string}}
      - {name: key, in: path, required: true, schema: {type: string}}
      - {name: points, in: query, schema: {type: integer, default: 1000}}
    responses:
      200: {description: "x (steps), y (values), points_total"}
      404: {description: no such run, or no such metric in it}
    """
    ws = pages.workspace(request)
    run = ws.track.get_run(request.path_params["run_id"])
    key = request.path_params["key"]
    points = pages.query_int(request, "points", DEFAULT_POINTS, lo=3, hi=1_000_000)
    series = ws.track.metric_series(run.id, key)
    if len(series.steps) == 0:
        # An unknown key is a 404 like an unknown run, not an empty 200 (the team server's
        # path-safety corpus checks that every name parameter answers 4xx when it names nothing).
        raise NotFoundError(f"run {run.id} has no metric {key[:100]!r}", hint="see the run's page")
    line = downsample(run.name, series.steps, series.values, max_points=points)
    return pages.json_response({"run_id": run.id, **curve_json(key, line)})


def artifact_download(request: Request) -> Response:
    """An artifact's bytes (text artifacts shown as text, anything else downloaded)."""
    from starlette.responses import StreamingResponse

    ws = pages.workspace(request)
    artifact = ws.track.artifact(request.path_params["run_id"], request.path_params["name"])
    handle = ws.track.objects.open(artifact.digest)
    text = artifact.kind in ("lineage", "log") or artifact.name.endswith((".txt", ".diff", ".log"))
    filename = artifact.name.rsplit("/", 1)[-1].replace('"', "")
    headers = {
        "content-length": str(artifact.size),
        # Text is shown as plain text, never rendered as HTML; everything else is a download.
        "content-disposition": f'{"inline" if text else "attachment"}; filename="{filename}"',
    }

    def chunks() -> Any:
        with handle:
            while block := handle.read(1 << 20):
                yield block

    media = "text/plain; charset=utf-8" if text else "application/octet-stream"
    return StreamingResponse(chunks(), media_type=media, headers=headers)
