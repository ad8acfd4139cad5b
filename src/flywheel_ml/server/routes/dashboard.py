"""The dashboard (``/``): the project page, the nine stages with their evidence, recent activity
and what to do next; as JSON at ``/api/v1/dashboard``, ``/api/v1/status``, ``/api/v1/activity``."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from flywheel_ml.reports.status import status_to_json
from flywheel_ml.server import pages
from flywheel_ml.server.queue_scope import queue_scope
from flywheel_ml.workspace import Workspace

_UNAVAILABLE = "not available in this Flywheel version"


def activity_data(ws: Workspace, *, limit: int = 20, stage: str | None = None) -> list[Any]:
    """The newest events of the activity log (who did what, when)."""
    return [
        {
            "at": e.at,
            "stage": e.stage,
            "kind": e.kind,
            "subject": e.subject,
            "actor": e.actor,
            "detail": dict(e.detail),
        }
        for e in ws.events.recent(limit=limit, stage=stage)
    ]


def dashboard_data(ws: Workspace) -> dict[str, Any]:
    """Everything the dashboard shows."""
    page = ws.plan.get()
    statuses = status_to_json(ws.status())
    next_steps = [
        {"stage": s["stage"], "deliverable": d["name"], "command": d["next_step"]}
        for s in statuses
        for d in s["deliverables"]
        if not d["done"] and d["next_step"] and d["next_step"] != _UNAVAILABLE
    ]
    done = sum(1 for s in statuses if s["done"])
    return {
        "name": ws.name,
        "page": page,
        "page_missing": list(ws.plan.check().missing),
        "stages": statuses,
        "stages_done": done,
        "next_steps": next_steps[:6],
        "activity": activity_data(ws, limit=15),
    }


def _scoped_dashboard(request: Request) -> dict[str, Any]:
    data = dashboard_data(pages.workspace(request))
    scope = queue_scope(request)
    return data if scope is None else {**data, "activity": scope.events(data["activity"])}


def _scoped_activity(request: Request, *, limit: int, stage: str | None) -> list[Any]:
    ws = pages.workspace(request)
    scope = queue_scope(request)
    if scope is None:
        return activity_data(ws, limit=limit, stage=stage)
    # Label events of others are cut out: read further back so the page is still full.
    return scope.events(activity_data(ws, limit=max(limit * 5, 500), stage=stage))[:limit]


def dashboard(request: Request) -> Response:
    """The dashboard page."""
    return pages.render(request, "dashboard.html", _scoped_dashboard(request))


def api_dashboard(request: Request) -> Response:
    """
    summary: The dashboard (project page, stages, next steps, recent activity)
    responses:
      200:
        description: the dashboard's data
    """
    return pages.json_response(_scoped_dashboard(request))


def api_status(request: Request) -> Response:
    """
    summary: The nine lifecycle stages with each deliverable's evidence (as `flywheel status`)
    responses:
      200:
        description: one entry per stage, in lifecycle order
    """
    return pages.json_response(status_to_json(pages.workspace(request).status()))


def api_activity(request: Request) -> Response:
    """
    summary: The activity log, newest first
    parameters:
      - {name: limit, in: query, schema: {type: integer, default: 50, maximum: 500}}
      - {name: stage, in: query, schema: {type: string}}
    responses:
      200:
        description: events with who, when, what
    """
    limit = pages.query_int(request, "limit", 50, lo=1, hi=500)
    stage = pages.query_text(request, "stage") or None
    return pages.json_response(_scoped_activity(request, limit=limit, stage=stage))


def activity(request: Request) -> Response:
    """The full activity page (newest 200 events, optionally of one stage)."""
    stage = pages.query_text(request, "stage") or None
    events = _scoped_activity(request, limit=200, stage=stage)
    return pages.render(request, "activity.html", {"events": events, "stage": stage or ""})


def routes() -> list[BaseRoute]:
    """The dashboard's HTML and JSON routes."""
    return [
        Route("/", dashboard, include_in_schema=False),
        Route("/ui/activity", activity, include_in_schema=False),
        Route("/api/v1/dashboard", api_dashboard),
        Route("/api/v1/status", api_status),
        Route("/api/v1/activity", api_activity),
    ]
