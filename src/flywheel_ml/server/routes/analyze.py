"""The analyze stage's pages: confusion, slices and failure clusters of a model version on the
validation split, and the error-analysis and experience reports as written.

Pages only read: analyses shown here are not recorded as events, and the sealed test split is
not offered (reading it needs a purpose and leaves an audit record: use the CLI).
"""

from __future__ import annotations

import re
from dataclasses import asdict
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from flywheel_ml.errors import InvalidInputError
from flywheel_ml.server import pages
from flywheel_ml.workspace import Workspace

_SPLITS = ("val", "train")


def _split(request: Request) -> str:
    on = pages.query_text(request, "on", "val", limit=10)
    if on not in _SPLITS:
        raise InvalidInputError(
            f"the pages analyse val or train, not {on!r}",
            hint="sealed test labels are read only with a purpose: flywheel analyze errors "
            "REF --on test --purpose WHY",
        )
    return on


def models_data(ws: Workspace) -> dict[str, Any]:
    """Every live model version (newest first) and the one to show by default."""
    versions = list(reversed(ws.registry.list_versions()))
    default = None
    for version in versions:
        if ws.registry.aliases(version.name).get("champion") == version.version:
            default = version.ref
            break
    if default is None and versions:
        default = versions[0].ref
    return {"models": [v.ref for v in versions], "default": default}


def analysis_data(ws: Workspace, ref: str, *, on: str = "val") -> dict[str, Any]:
    """Errors, slices and failure clusters of ``ref`` on split ``on`` (nothing recorded)."""
    from flywheel_ml.reports.analysis_charts import confusion_svg, interval_svg

    analyze = ws.analyze
    model = analyze.model(ref)
    errors = analyze.errors(model.ref, on=on, record=False)
    slices = analyze.slices(model.ref, on=on, record=False)
    clusters = analyze.clusters(model.ref, on=on, record=False)
    report = analyze.report_path(model.ref)
    return {
        "ref": model.ref,
        "on": on,
        "errors": asdict(errors),
        "slices": asdict(slices),
        "clusters": asdict(clusters),
        "confusion_svg": confusion_svg(errors.labels, errors.confusion),
        "slices_svg": interval_svg([
            (s.name, s.accuracy, s.ci_low, s.ci_high, s.too_small)
            for s in slices.slices
            if s.accuracy is not None and s.ci_low is not None and s.ci_high is not None
        ]),
        "report": report.name if report.is_file() else None,
        "experience": (ws.root / "docs" / "experience.md").is_file(),
    }  # fmt: skip


def analyze_page(request: Request) -> Response:
    """Confusion, slices and failure clusters of one model version."""
    ws = pages.workspace(request)
    listing = models_data(ws)
    ref = pages.query_text(request, "model", listing["default"] or "", limit=200)
    data: dict[str, Any] = {**listing, "analysis": None}
    if ref:
        data["analysis"] = analysis_data(ws, ref, on=_split(request))
    return pages.render(request, "analyze/analyze.html", data, stage="analyze")


def api_analysis(request: Request) -> Response:
    """Error analysis of a model version.
    ---
    summary: Confusion, per-class metrics, slices with intervals, failure clusters of a version
    parameters:
      - {name: ref, in: path, required: true, schema: {type: string}, example: "digits-clf@v1"}
      - {name: "on", in: query, required: false, schema: {type: string, enum: [val, train]}}
    responses:
      200: {description: "errors, slices, clusters"}
      422: {description: an unknown split (the sealed test split is not served)}
      404: {description: no such model version}
    """
    ws = pages.workspace(request)
    data = analysis_data(ws, request.path_params["ref"], on=_split(request))
    data.pop("confusion_svg")
    data.pop("slices_svg")
    return pages.json_response(data)


def report_page(request: Request) -> Response:
    """A report as last written by ``flywheel docs error-analysis|experience``."""
    from flywheel_ml.errors import NotFoundError
    from flywheel_ml.reports.error_analysis import written_body_html

    ws = pages.workspace(request)
    name = request.path_params["name"]
    # The name becomes part of a file name: refuse anything but a model reference's characters
    # (the team server's path-safety corpus sends traversal and over-long names here).
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,150}", name):
        raise NotFoundError(f"no report {name[:80]!r}", hint="open a report from /ui/analyze")
    if name == "experience":
        path = ws.root / "docs" / "experience.md"
        command = "flywheel docs experience"
    else:
        path = ws.analyze.report_path(name)
        command = f"flywheel docs error-analysis {name}"
    html = written_body_html(path)
    if html is None:
        raise NotFoundError(f"no report {path.name} has been written", hint=f"run `{command}`")
    data = {"name": name, "html": html, "command": command}
    return pages.render(request, "analyze/report.html", data, stage="analyze")


def routes() -> list[BaseRoute]:
    """The analyze stage's HTML and JSON routes."""
    return [
        Route("/ui/analyze", analyze_page, include_in_schema=False),
        Route("/ui/analyze/reports/{name}", report_page, include_in_schema=False),
        Route("/api/v1/analyze/{ref}", api_analysis),
    ]
