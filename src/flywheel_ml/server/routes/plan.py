"""The plan stage's page (``/ui/plan``): the project page, what it lacks, and its history."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from flywheel_ml.server import pages
from flywheel_ml.workspace import Workspace


def plan_data(ws: Workspace) -> dict[str, Any]:
    """The project page, its completeness check and every revision (newest first)."""
    check = ws.plan.check()
    return {
        "page": ws.plan.get(),
        "missing": list(check.missing),
        "warnings": list(check.warnings),
        "history": [
            {
                "revision": r.revision,
                "summary": r.summary,
                "changed_at": r.changed_at,
                "changed_by": r.changed_by,
                "objective": None if r.page.objective is None else str(r.page.objective),
                "constraints": [str(c) for c in r.page.constraints],
            }
            for r in reversed(ws.plan.history())
        ],
    }


def plan_page(request: Request) -> Response:
    """The project page with its history."""
    return pages.render(
        request, "plan/page.html", plan_data(pages.workspace(request)), stage="plan"
    )


def api_plan(request: Request) -> Response:
    """The project page.
    ---
    summary: The project page (problem, value, objective, constraints), its gaps and history
    responses:
      200:
        description: page, missing parts, warnings, revisions newest first
    """
    return pages.json_response(plan_data(pages.workspace(request)))


def routes() -> list[BaseRoute]:
    """The plan stage's HTML and JSON routes."""
    return [
        Route("/ui/plan", plan_page, include_in_schema=False),
        Route("/api/v1/plan", api_plan),
    ]
