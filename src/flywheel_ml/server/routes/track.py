"""The track stage's pages: the run table (server-side paging, sorting and the CLI's filter
grammar) here; one run, compared runs and the leaderboard in ``track_run``, ``track_compare``
and ``track_leaderboard``. :func:`routes` gathers them all."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from flywheel_ml.errors import InvalidInputError
from flywheel_ml.server import pages
from flywheel_ml.server.routes import track_compare, track_leaderboard, track_run
from flywheel_ml.server.routes.track_json import run_json
from flywheel_ml.track.entities import Run
from flywheel_ml.workspace import Workspace

PER_PAGE = 50
_MAX_PARAM_COLUMNS = 4
_MAX_METRIC_COLUMNS = 6


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


def routes() -> list[BaseRoute]:
    """The track stage's HTML and JSON routes."""
    return [
        Route("/ui/track", runs_page, include_in_schema=False),
        Route("/ui/track/compare", track_compare.compare_page, include_in_schema=False),
        Route("/ui/track/leaderboard", track_leaderboard.leaderboard_page, include_in_schema=False),
        Route("/ui/track/runs/{run_id}", track_run.run_page, include_in_schema=False),
        Route(
            "/ui/track/runs/{run_id}/artifacts/{name:path}",
            track_run.artifact_download,
            include_in_schema=False,
        ),
        Route("/api/v1/track/runs", api_runs),
        Route("/api/v1/track/compare", track_compare.api_compare),
        Route("/api/v1/track/leaderboard", track_leaderboard.api_leaderboard),
        Route("/api/v1/track/runs/{run_id}", track_run.api_run),
        Route("/api/v1/track/runs/{run_id}/metrics/{key:path}", track_run.api_metric),
    ]
