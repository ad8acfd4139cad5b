"""The team server: the UI app and its JSON API behind authentication, plus operations routes.

``flywheel server start`` serves this. It is :func:`create_ui_app` with writes enabled (each
route's role decides who may write) behind :class:`~flywheel_ml.server.team_auth.TeamGate`, and
adds the store and object APIs that REST clients call (``server/routes/stores.py``,
``server/routes/objects.py``), ``/readyz`` (the database answers and its schema is this
Flywheel's) and ``/metrics`` (Prometheus text: requests by method, route and status).
``/healthz``, ``/readyz`` and the static files are the only routes answered without a token,
with ``/login`` (a browser signs in with a token and gets it back as an HttpOnly,
SameSite=Strict cookie) and ``/logout``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import IO, TYPE_CHECKING

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from flywheel_ml.core.access import AuthenticationError
from flywheel_ml.errors import InvalidInputError, PermissionDeniedError
from flywheel_ml.server import pages
from flywheel_ml.server.team_auth import SESSION_COOKIE, RequestMetrics, TeamGate
from flywheel_ml.server.ui_app import LOCAL_HOSTS, create_ui_app

if TYPE_CHECKING:
    from flywheel_ml.workspace import Workspace


def create_team_app(
    ws: Workspace,
    *,
    allowed_hosts: Sequence[str] = LOCAL_HOSTS,
    access_log: IO[str] | None = None,
) -> Starlette:
    """The team server app for ``ws`` (which stays open for the app's life).

    Args:
        ws: the workspace served; its database holds the users and tokens.
        allowed_hosts: accepted ``Host`` header values (``["*"]`` when listening everywhere).
        access_log: where one JSON line per request goes (``flywheel server start``: stderr).
    """
    from flywheel_ml.server.routes import objects, stores

    app = create_ui_app(ws, write=True, allowed_hosts=allowed_hosts)
    metrics = RequestMetrics()
    app.state.request_metrics = metrics
    # Before the static mount and the stage routes; these paths are not used by any of them.
    app.router.routes[0:0] = [
        *stores.routes(),
        *objects.routes(),
        Route("/readyz", _readyz, include_in_schema=False),
        Route("/metrics", _metrics, include_in_schema=False),
        Route("/login", _login_page, include_in_schema=False),
        Route("/login", _login, methods=["POST"], include_in_schema=False),
        Route("/logout", _logout, methods=["POST"], include_in_schema=False),
    ]
    app.add_middleware(
        TeamGate,
        routes=app.router.routes,
        access=ws.access,
        metrics=metrics,
        log=access_log,
    )
    return app


def _readyz(request: Request) -> Response:
    from flywheel_ml.backends.sql.migrate import current_revision, head_revision

    ws = pages.workspace(request)
    try:
        revision = current_revision(ws.database)
    except Exception as exc:  # any failure to answer means "not ready"
        return pages.json_response(
            {"ready": False, "reason": f"database: {type(exc).__name__}"}, status_code=503
        )
    head = head_revision()
    if revision != head:
        return pages.json_response(
            {
                "ready": False,
                "reason": f"schema at {revision}, this Flywheel needs {head}",
                "hint": "run flywheel server migrate",
            },
            status_code=503,
        )
    return pages.json_response({"ready": True, "revision": revision})


def _metrics(request: Request) -> Response:
    metrics: RequestMetrics = request.app.state.request_metrics
    return PlainTextResponse(metrics.render(), media_type="text/plain; version=0.0.4")


def _next_path(text: str) -> str:
    # Only a path on this server: never "//other.host" or "https://..." (no open redirect).
    return text if text.startswith("/") and not text.startswith("//") and "\\" not in text else "/"


def _login_page(request: Request) -> Response:
    context = {"next": _next_path(pages.query_text(request, "next", limit=500)), "failed": ""}
    return pages.render(request, "login.html", context)


async def _login(request: Request) -> Response:
    """Check the posted token; on success keep it in a cookie and go to ``next``."""
    import secrets

    from starlette.concurrency import run_in_threadpool

    form = await pages.read_form(request)
    if not secrets.compare_digest(form.get("_token", ""), pages.settings(request).form_token):
        raise PermissionDeniedError(
            "the sign-in form is stale or came from another site", hint="reload /login"
        )
    token = form.get("token", "").strip()
    if not token:
        raise InvalidInputError("no token given", hint="paste the token an admin gave you")
    next_path = _next_path(form.get("next", "/"))
    ws = pages.workspace(request)
    try:
        principal = await run_in_threadpool(ws.access.authenticate, token)
    except AuthenticationError as exc:
        return pages.render(
            request, "login.html", {"next": next_path, "failed": exc.message}, status_code=401
        )
    records = await run_in_threadpool(ws.access.list_tokens, principal.user)
    expires = next((r.expires_at for r in records if r.id == principal.token_id), None)
    response = RedirectResponse(next_path, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        expires=expires,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


def _logout(request: Request) -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response
