"""The track stage's compare page: two to ten runs side by side (params, metrics, lineage)
with each shared metric's curves overlaid."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from flywheel_ml.errors import InvalidInputError
from flywheel_ml.server import pages
from flywheel_ml.server.charts import DEFAULT_POINTS, downsample, line_chart
from flywheel_ml.server.routes.track_json import curve_json, finite, run_json
from flywheel_ml.workspace import Workspace

_MAX_CURVES = 12
_MAX_COMPARE = 10


def compare_data(ws: Workspace, run_ids: Sequence[str], *, points: int) -> dict[str, Any]:
    """Runs side by side with each shared metric's curves overlaid.

    Raises:
        InvalidInputError: fewer than two runs, or more than ten.
    """
    if len(run_ids) > _MAX_COMPARE:
        raise InvalidInputError(
            f"{len(run_ids)} runs asked for; compare at most {_MAX_COMPARE}",
            hint="tick fewer runs",
        )
    comparison = ws.track.compare(list(run_ids))
    runs = comparison.runs
    keys = sorted({k for r in runs for k, s in r.summaries.items() if s.count >= 2})
    curves = []
    for key in keys[:_MAX_CURVES]:
        lines = []
        for run in runs:
            if key in run.summaries:
                series = ws.track.metric_series(run.id, key)
                label = f"{run.name} ({run.short_id})"
                lines.append(downsample(label, series.steps, series.values, max_points=points))
        curves.append({"key": key, "lines": lines})
    return {
        "runs": [run_json(r) for r in runs],
        "params": {k: list(v) for k, v in comparison.params.items()},
        "differing_params": [k for k, v in comparison.params.items() if len(set(map(repr, v))) > 1],
        "metrics": {k: [_finite_or_none(x) for x in v] for k, v in comparison.metrics.items()},
        "lineage": {k: [str(x) for x in v] for k, v in comparison.lineage.items()},
        "curves": curves,
    }


def _finite_or_none(value: float | None) -> float | None:
    return None if value is None else finite(value)


def compare_page(request: Request) -> Response:
    """Two or more runs side by side, curves overlaid."""
    run_ids = request.query_params.getlist("run")
    data = compare_data(pages.workspace(request), run_ids, points=DEFAULT_POINTS)
    data["charts"] = [
        {"key": c["key"], "chart": line_chart(c["lines"], y_title=c["key"])} for c in data["curves"]
    ]
    return pages.render(request, "track/compare.html", data, stage="track")


def api_compare(request: Request) -> Response:
    """Runs compared.
    ---
    summary: Two to ten runs side by side (params, metrics, lineage) with overlaid curves
    parameters:
      - {name: run, in: query, required: true, schema: {type: array, items: {type: string}},
         style: form, explode: true}
      - {name: points, in: query, schema: {type: integer, default: 1000}}
    responses:
      200: {description: the comparison}
      422: {description: fewer than two runs}
    """
    points = pages.query_int(request, "points", DEFAULT_POINTS, lo=3, hi=100_000)
    data = compare_data(
        pages.workspace(request), request.query_params.getlist("run"), points=points
    )
    data["curves"] = [
        {"key": c["key"], "lines": [curve_json(line.name, line) for line in c["lines"]]}
        for c in data["curves"]
    ]
    return pages.json_response(data)
