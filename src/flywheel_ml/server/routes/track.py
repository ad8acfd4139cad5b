"""The track stage's pages: the run table (server-side paging, sorting and the CLI's filter
grammar), a run's page, runs compared with overlaid curves, and the leaderboard."""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from flywheel_ml.errors import InvalidInputError, NotFoundError
from flywheel_ml.plan.entities import ProjectPage
from flywheel_ml.plan.gates import satisfies
from flywheel_ml.server import pages
from flywheel_ml.server.charts import DEFAULT_POINTS, downsample, line_chart
from flywheel_ml.track.entities import Run
from flywheel_ml.track.query import parse_query
from flywheel_ml.workspace import Workspace

PER_PAGE = 50
_MAX_PARAM_COLUMNS = 4
_MAX_METRIC_COLUMNS = 6
_MAX_CURVES = 12
_MAX_COMPARE = 10


def run_json(run: Run, *, detail: bool = False) -> dict[str, Any]:
    """A run as JSON: the table's fields, plus lineage and metric summaries with ``detail``."""
    doc: dict[str, Any] = {
        "id": run.id,
        "short_id": run.short_id,
        "name": run.name,
        "status": run.status,
        "started_at": run.started_at,
        "ended_at": run.ended_at,
        "duration_s": run.duration_s,
        "created_by": run.created_by,
        "params": dict(run.params),
        "metrics": {k: _finite(v) for k, v in run.metrics.items()},
        "tags": dict(run.tags),
        "datasets": list(run.datasets),
        "deleted": run.deleted,
    }
    if detail:
        doc["lineage"] = dataclasses.asdict(run.lineage)
        doc["summaries"] = {
            k: {
                "last": _finite(s.last),
                "step": s.step,
                "min": _finite(s.min),
                "max": _finite(s.max),
                "count": s.count,
            }
            for k, s in run.summaries.items()
        }
    return doc


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _columns(runs: Sequence[Run], field: str, limit: int, first: str = "") -> list[str]:
    """The keys most runs on the page have, ``first`` (the objective) leading."""
    counts: Counter[str] = Counter()
    for run in runs:
        counts.update(getattr(run, field).keys())
    keys = [k for k, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    if first:
        found = [k for k in (first, f"val_{first}") if k in counts]
        keys = found + [k for k in keys if k not in found]
    return keys[:limit]


def runs_data(ws: Workspace, *, where: str, order: str, page: int, per: int) -> dict[str, Any]:
    """One page of the run table.

    Raises:
        InvalidInputError: a malformed filter or sort key (the message says which part).
    """
    total = ws.track.count_runs(where or None)
    pages_total = max(1, math.ceil(total / per))
    page = min(page, pages_total)
    runs = ws.track.list_runs(
        where or None, order_by=order or None, limit=per, offset=(page - 1) * per
    )
    objective = ws.plan.get().objective
    return {
        "where": where,
        "order": order,
        "page": page,
        "per": per,
        "total": total,
        "pages_total": pages_total,
        "param_columns": _columns(runs, "params", _MAX_PARAM_COLUMNS),
        "metric_columns": _columns(
            runs, "metrics", _MAX_METRIC_COLUMNS, objective.metric if objective else ""
        ),
        "runs": [run_json(r) for r in runs],
    }


def _table_query(request: Request) -> dict[str, Any]:
    return {
        "where": pages.query_text(request, "where"),
        "order": pages.query_text(request, "order", limit=200),
        "page": pages.query_int(request, "page", 1, lo=1),
        "per": pages.query_int(request, "per", PER_PAGE, lo=1, hi=500),
    }


def runs_page(request: Request) -> Response:
    """The run table; a bad filter shows its error above an empty table."""
    query = _table_query(request)
    try:
        data = runs_data(pages.workspace(request), **query)
        error = None
    except InvalidInputError as exc:
        data = {**query, "total": 0, "pages_total": 1, "param_columns": [], "metric_columns": []}
        data["runs"] = []
        error = exc
    keep = {k: v for k, v in (("where", query["where"]), ("order", query["order"])) if v}
    data["error"] = error
    data["base"] = "/ui/track?" + (urlencode(keep) + "&" if keep else "")
    data["sort_link"] = lambda key: _sort_link(query, key)
    return pages.render(
        request, "track/runs.html", data, stage="track", status_code=422 if error else 200
    )


def _sort_link(query: dict[str, Any], key: str) -> str:
    """The table URL sorted by ``key``: descending first, then ascending on a second click."""
    order = f"-{key}" if query["order"] != f"-{key}" else key
    params = {"order": order}
    if query["where"]:
        params["where"] = query["where"]
    return "/ui/track?" + urlencode(params)


def api_runs(request: Request) -> Response:
    """One page of runs.
    ---
    summary: Runs, filtered with the CLI's grammar, sorted and paged on the server
    parameters:
      - {name: where, in: query, schema: {type: string}, example: "metrics.val_accuracy > 0.9"}
      - {name: order, in: query, schema: {type: string}, example: "-metrics.val_accuracy"}
      - {name: page, in: query, schema: {type: integer, default: 1}}
      - {name: per, in: query, schema: {type: integer, default: 50, maximum: 500}}
    responses:
      200: {description: "total, page, pages_total, runs"}
      422: {description: a malformed filter or sort key}
    """
    data = runs_data(pages.workspace(request), **_table_query(request))
    return pages.json_response(data)


# -- one run -------------------------------------------------------------------------------------


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
    data["curves"] = [_curve_json(c["key"], c["line"]) for c in data["curves"]]
    return pages.json_response(data)


def _curve_json(key: str, line: Any) -> dict[str, Any]:
    return {"key": key, "x": line.x, "y": line.y, "points_total": line.points_total}


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
    return pages.json_response({"run_id": run.id, **_curve_json(key, line)})


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


# -- compare -------------------------------------------------------------------------------------


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
    return None if value is None else _finite(value)


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
        {"key": c["key"], "lines": [_curve_json(line.name, line) for line in c["lines"]]}
        for c in data["curves"]
    ]
    return pages.json_response(data)


# -- leaderboard ---------------------------------------------------------------------------------


def _page_keys(page: ProjectPage, prefix: str) -> dict[str, list[str]]:
    """Each metric the page names with the run metrics it is looked up as, in order."""
    names = [c.metric for c in page.constraints]
    if page.objective is not None:
        names.append(page.objective.metric)
    return {n: ([f"{prefix}{n}"] if prefix else [n, f"val_{n}"]) for n in names}


def rank_fast(
    rows: Sequence[tuple[str, str, dict[str, float]]], page: ProjectPage, *, prefix: str
) -> tuple[list[tuple[str, dict[str, float]]], int]:
    """Run ids with the page's metric values, ranked exactly as
    :func:`flywheel_ml.track.leaderboard.rank_runs` ranks runs (every constraint measured and
    met first, then by objective, ties newest first), and how many pass; without building runs
    or verdicts. ``rows`` are ``(run id, start key sorting like the start time, values)``.
    """
    objective = page.objective
    assert objective is not None
    keys = _page_keys(page, prefix)
    sign = -1.0 if objective.direction == "max" else 1.0
    checks = [(c.metric, c.holds) for c in page.constraints]
    judged = []
    passing = 0
    for run_id, started, values in rows:
        found = {}
        for name, candidates in keys.items():
            for candidate in candidates:
                value = values.get(candidate)
                if value is not None:
                    if not math.isnan(value):  # NaN counts as not measured (plan.satisfies)
                        found[name] = value
                    break
        value = found.get(objective.metric)
        if value is None:
            key: tuple[int, float] = (2, 0.0)
        else:
            met = True
            for metric, holds in checks:
                measured = found.get(metric)
                if measured is None or not holds(measured):
                    met = False
                    break
            passing += met
            key = (0 if met else 1, sign * value)
        judged.append((key, started, run_id, found))
    # Newest first among equals: sort by start descending, then stably by the rank key.
    judged.sort(key=lambda item: item[1], reverse=True)
    judged.sort(key=lambda item: item[0])
    return [(run_id, found) for _key, _at, run_id, found in judged], passing


def leaderboard_data(ws: Workspace, *, where: str, prefix: str, limit: int) -> dict[str, Any]:
    """Runs ranked by the objective, those meeting every constraint first.

    Only the metrics the page names are read for every run; the runs shown are built in full.

    Raises:
        InvalidInputError: the project page has no objective, or a malformed filter.
    """
    from flywheel_ml.backends.sql.track_ranking import metric_values, runs_by_id

    page = ws.plan.get()
    if page.objective is None:
        raise InvalidInputError(
            "the project page has no objective to rank runs by",
            hint="set one with `flywheel plan set --objective 'accuracy max'`",
        )
    query = parse_query(where or None)
    ws.track.reap_crashed()
    keys = sorted({k for ks in _page_keys(page, prefix).values() for k in ks})
    ranked, passing = rank_fast(metric_values(ws.database, query, keys), page, prefix=prefix)
    shown = ranked[:limit]
    runs = runs_by_id(ws.database, [run_id for run_id, _v in shown])
    entries = []
    for rank, (run_id, found) in enumerate(shown, start=1):
        verdict = satisfies(page, found)
        entries.append(
            {
                "rank": rank,
                "run": run_json(runs[run_id]),
                "objective_value": verdict.objective_value,
                "passed": verdict.passed and verdict.objective_value is not None,
                "failed_constraints": [
                    f"{c.constraint} (measured {c.measured:g})" for c in verdict.failed
                ],
                "unmeasured_constraints": [str(c) for c in verdict.unmeasured],
            }
        )
    return {
        "objective": str(page.objective),
        "constraints": [str(c) for c in page.constraints],
        "where": where,
        "prefix": prefix,
        "total": len(ranked),
        "passing": passing,
        "entries": entries,
    }


def _leaderboard_query(request: Request) -> dict[str, Any]:
    return {
        "where": pages.query_text(request, "where"),
        "prefix": pages.query_text(request, "prefix", limit=100),
        "limit": pages.query_int(request, "limit", 100, lo=1, hi=10_000),
    }


def leaderboard_page(request: Request) -> Response:
    """The leaderboard with constraint breaks marked."""
    data = leaderboard_data(pages.workspace(request), **_leaderboard_query(request))
    return pages.render(request, "track/leaderboard.html", data, stage="track")


def api_leaderboard(request: Request) -> Response:
    """The leaderboard.
    ---
    summary: Runs ranked by the project objective; constraint breaks listed per run
    parameters:
      - {name: where, in: query, schema: {type: string}}
      - {name: prefix, in: query, schema: {type: string}, description: "metric prefix, e.g. val_"}
      - {name: limit, in: query, schema: {type: integer, default: 100}}
    responses:
      200: {description: "objective, constraints, entries best first"}
      422: {description: the project page has no objective}
    """
    data = leaderboard_data(pages.workspace(request), **_leaderboard_query(request))
    return pages.json_response(data)


def routes() -> list[BaseRoute]:
    """The track stage's HTML and JSON routes."""
    return [
        Route("/ui/track", runs_page, include_in_schema=False),
        Route("/ui/track/compare", compare_page, include_in_schema=False),
        Route("/ui/track/leaderboard", leaderboard_page, include_in_schema=False),
        Route("/ui/track/runs/{run_id}", run_page, include_in_schema=False),
        Route(
            "/ui/track/runs/{run_id}/artifacts/{name:path}",
            artifact_download,
            include_in_schema=False,
        ),
        Route("/api/v1/track/runs", api_runs),
        Route("/api/v1/track/compare", api_compare),
        Route("/api/v1/track/leaderboard", api_leaderboard),
        Route("/api/v1/track/runs/{run_id}", api_run),
        Route("/api/v1/track/runs/{run_id}/metrics/{key:path}", api_metric),
    ]
