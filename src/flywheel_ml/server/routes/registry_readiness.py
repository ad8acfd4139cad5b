"""The registry's readiness page: a model version's ML Test Score (28 tests over data, model,
infrastructure and monitoring), each passed, failed or not measurable yet, with its evidence
and the command that would produce a missing fact. ``/ui/registry/readiness`` shows the
champion's."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from flywheel_ml.server import pages
from flywheel_ml.workspace import Workspace


def readiness_data(ws: Workspace, ref: str) -> dict[str, Any]:
    """The ML Test Score of ``ref`` (aliases resolve) as JSON-ready data.

    Raises:
        NotFoundError: no such model version.
    """
    version = ws.registry.get_version(ref)
    report = ws.readiness(version.ref)
    return {
        **report.summary(),
        "asked": ref,
        "name": version.name,
        "at": report.at,
        "sections": report.section_scores,
        "items": [asdict(i) for i in report.items],
    }


def champion_readiness_page(request: Request) -> Response:
    """The champion's readiness, or how to name a champion when there is none."""
    from flywheel_ml.reports.readiness import champion_ref

    ref = champion_ref(pages.workspace(request).registry)
    if ref is None:
        return pages.render(request, "registry/readiness.html", {"report": None}, stage="registry")
    return RedirectResponse(f"/ui/registry/readiness/{quote(ref, safe='@')}", status_code=303)


def readiness_page(request: Request) -> Response:
    """One version's 28 verdicts with evidence and next steps."""
    data = readiness_data(pages.workspace(request), request.path_params["ref"])
    return pages.render(request, "registry/readiness.html", {"report": data}, stage="registry")


def api_readiness(request: Request) -> Response:
    """A version's ML Test Score.
    ---
    summary: The 28 ML Test Score tests of a version, each judged from recorded facts
    parameters:
      - {name: ref, in: path, required: true, schema: {type: string}, example: "digits-clf@v1"}
    responses:
      200: {description: "model, score, passed, measurable, total, sections, items"}
      404: {description: no such model, version or alias}
    """
    return pages.json_response(readiness_data(pages.workspace(request), request.path_params["ref"]))


def routes() -> list[BaseRoute]:
    """The readiness page's HTML and JSON routes (mounted by the registry router)."""
    return [
        Route("/ui/registry/readiness", champion_readiness_page, include_in_schema=False),
        Route("/ui/registry/readiness/{ref}", readiness_page, include_in_schema=False),
        Route("/api/v1/registry/readiness/{ref}", api_readiness),
    ]
