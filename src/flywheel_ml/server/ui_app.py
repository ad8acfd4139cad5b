"""The web UI and its JSON API: one Starlette app, one router module per lifecycle stage.

``flywheel ui`` serves it on 127.0.0.1. The dashboard is ``/``; each stage has its pages under
``/ui/<stage>`` and the same data as JSON under ``/api/v1/<stage>``. A stage adds its router by
naming its module (``flywheel_ml.server.routes.<stage>``, exposing ``routes()``) in
:data:`STAGE_ROUTERS`; a stage without a router gets an honest "no page yet" page.

Nothing leaves the machine: templates, CSS, JS and plotly.js (from the installed ``plotly``
package) are served by the app itself, and the Content-Security-Policy forbids the browser to
load anything from elsewhere (so no inline scripts: put page data in a
``<script type="application/json">`` block, as the ``chart`` macro does).

A stage router, e.g. ``server/routes/monitor.py``::

    def drift_data(ws: Workspace) -> dict[str, Any]: ...       # the page's data, once

    def drift_page(request: Request) -> Response:
        data = drift_data(pages.workspace(request))
        return pages.render(request, "monitor/drift.html", data, stage="monitor")

    def api_drift(request: Request) -> Response:
        \"\"\"Drift.
        ---
        summary: Drift of every feature          # the OpenAPI entry (YAML after ---)
        responses: {200: {description: drift per feature}}
        \"\"\"
        return pages.json_response(drift_data(pages.workspace(request)))

    def routes() -> list[BaseRoute]:
        return [Route("/ui/monitor", drift_page, include_in_schema=False),
                Route("/api/v1/monitor", api_drift)]

with ``templates/monitor/drift.html`` extending ``base.html`` (blocks ``title`` and
``content``; macros in ``macros.html``), and a write as
``pages.write_action(request, form=..., stage=..., kind=..., subject=..., action=...)``.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.schemas import SchemaGenerator
from starlette.staticfiles import StaticFiles

from flywheel_ml.core.lifecycle import STAGES
from flywheel_ml.errors import FlywheelError, NotFoundError
from flywheel_ml.server import pages

if TYPE_CHECKING:
    from flywheel_ml.workspace import Workspace

STAGE_ROUTERS: tuple[str, ...] = (
    "plan", "data", "label", "track", "tune", "analyze", "registry", "serve", "monitor",
)  # fmt: skip
"""Stage router modules under ``flywheel_ml.server.routes``, in lifecycle order of the nav."""

LOCAL_HOSTS: tuple[str, ...] = ("127.0.0.1", "localhost", "::1", "[::1]")

_STATIC = Path(__file__).with_name("static")
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def create_ui_app(
    ws: Workspace, *, write: bool = False, allowed_hosts: Sequence[str] = LOCAL_HOSTS
) -> Starlette:
    """The UI app for ``ws``.

    Args:
        ws: the workspace shown (it stays open for the app's life; the caller closes it).
        write: allow write actions (promote, rollback, labels...); read-only otherwise.
        allowed_hosts: the ``Host`` header values accepted (protects the local server from
            DNS rebinding); add the address given to ``--host`` when it is not local.
    """
    stage_routes: list[BaseRoute] = []
    for name in STAGE_ROUTERS:
        module = importlib.import_module(f"flywheel_ml.server.routes.{name}")
        stage_routes.extend(module.routes())
    from flywheel_ml.server.routes import dashboard

    missing = [(n, q, d) for n, q, d in STAGES if n not in STAGE_ROUTERS]
    routes: list[BaseRoute] = [
        *dashboard.routes(),
        *stage_routes,
        *(Route(f"/ui/{name}", _no_page) for name, _q, _d in missing),
        Route("/api/v1/openapi.json", _openapi, include_in_schema=False),
        Route("/healthz", _healthz, include_in_schema=False),
        Route("/static/vendor/plotly.min.js", _plotly_js, include_in_schema=False),
        Mount("/static", app=StaticFiles(directory=_STATIC), name="static"),
    ]
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts)),
            Middleware(_SecurityHeaders),
        ],
        exception_handlers={
            FlywheelError: _flywheel_error,
            HTTPException: _http_error,
        },
    )
    app.state.ws = ws
    app.state.ui = pages.new_settings(write=write, stage_pages=frozenset(STAGE_ROUTERS))
    _warm(ws)
    return app


def _warm(ws: Workspace) -> None:
    # The stages are cached properties built on first use; building them here, once, keeps
    # two request threads from racing to build the same stage.
    for name in ("plan", "data", "track", "registry", "serve", "events"):
        getattr(ws, name)


class _SecurityHeaders:
    """Adds the CSP and ``Server-Timing`` (handler time until the response starts)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()

        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                elapsed = (time.perf_counter() - start) * 1000
                headers = list(message.get("headers", []))
                headers += [
                    (b"content-security-policy", _CSP.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"server-timing", f"app;dur={elapsed:.1f}".encode()),
                ]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, wrapped)


async def _flywheel_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, FlywheelError)
    return pages.error_response(request, exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return pages.error_response(
            request,
            NotFoundError(f"no page {request.url.path!r}", hint="start from the dashboard at /"),
        )
    if request.url.path.startswith("/api/"):
        return pages.json_response(
            {"error": "http", "message": str(exc.detail), "hint": ""}, status_code=exc.status_code
        )
    return Response(str(exc.detail), status_code=exc.status_code, media_type="text/plain")


def _no_page(request: Request) -> Response:
    stage = request.url.path.rstrip("/").rsplit("/", 1)[-1]
    question, deliverable = next((q, d) for n, q, d in STAGES if n == stage)
    return pages.render(
        request,
        "no_page.html",
        {"stage": stage, "question": question, "deliverable": deliverable},
        stage=stage,
    )


def _healthz(request: Request) -> Response:
    return pages.json_response({"ok": True, "workspace": pages.workspace(request).name})


def _plotly_js(request: Request) -> Response:
    import plotly

    path = Path(plotly.__file__).with_name("package_data") / "plotly.min.js"
    if not path.is_file():
        raise NotFoundError(
            "plotly.js is not in the installed plotly package",
            hint="pip install 'flywheel-ml[ui]' (plots need plotly)",
        )
    return FileResponse(
        path,
        media_type="text/javascript",
        headers={"cache-control": "public, max-age=86400"},
    )


def _openapi(request: Request) -> Response:
    generator = SchemaGenerator(
        {
            "openapi": "3.0.0",
            "info": {
                "title": "Flywheel UI API",
                "version": "1",
                "description": "The data of every web UI page, as JSON. Errors answer "
                '{"error", "message", "hint"} with a 4xx status; writes need a server '
                "started with --write.",
            },
        }
    )
    schema = generator.get_schema(routes=request.app.routes)
    schema["paths"] = {p: v for p, v in schema.get("paths", {}).items() if p.startswith("/api/")}
    return pages.json_response(schema)
