"""The track stage's leaderboard page: runs ranked by the project objective, constraint breaks
marked. The ranking is the track stage's (:meth:`TrackStage.ranking`, cached until anything is
written), so the page, ``flywheel track leaderboard`` and ``ws.track.leaderboard`` agree."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from flywheel_ml.server import pages
from flywheel_ml.server.routes.track_json import run_json
from flywheel_ml.track.leaderboard import entry_json
from flywheel_ml.workspace import Workspace


def leaderboard_data(ws: Workspace, *, where: str, prefix: str, limit: int) -> dict[str, Any]:
    """The ``limit`` best runs of those matching ``where``, with how many were ranked and how
    many meet every constraint. Only the runs shown are built.

    Raises:
        InvalidInputError: the project page has no objective, or a malformed filter.
    """
    page = ws.plan.get()
    ranking = ws.track.ranking(where or None, metric_prefix=prefix or None)
    entries = ws.track.leaderboard(
        where or None, metric_prefix=prefix or None, limit=limit, ranking=ranking
    )
    return {
        "objective": str(page.objective),
        "constraints": [str(c) for c in page.constraints],
        "where": where,
        "prefix": prefix,
        "total": ranking.total,
        "passing": ranking.passing,
        "entries": [entry_json(e, run_json(e.run)) for e in entries],
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
