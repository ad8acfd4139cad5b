"""The team server's gate: authentication, the policy table, request metrics and access logs.

One ASGI middleware in front of the UI app (``server/team_app.py``). For every HTTP request it

1. finds the route the request matches (the same routes, in the same order, as the router), so
   the policy is looked up by the route's declared template and not by a path a caller can
   spell in many ways;
2. lets probes and static files through (:data:`flywheel_ml.core.policy.PUBLIC_ROUTES`);
3. otherwise requires ``Authorization: Bearer <token>`` (or the cookie set by signing in at
   ``/login``) and answers 401 (no, malformed, unknown,
   expired or revoked token) before any handler runs;
4. answers 403 when the route is missing from the policy table (deny by default) or the user's
   role is below the route's; else passes the request on with the caller in the scope
   (``pages.PRINCIPAL_SCOPE_KEY``), where writes take their actor from;
5. counts the request by method, route template and status, and writes one JSON line to the
   access log.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import IO, Any
from urllib.parse import unquote_to_bytes

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request, cookie_parser
from starlette.routing import BaseRoute, Match

from flywheel_ml.core.access import (
    Access,
    AuthenticationError,
    ForbiddenError,
    Principal,
    bearer_token,
)
from flywheel_ml.core.policy import is_public, required_role
from flywheel_ml.errors import FlywheelError
from flywheel_ml.server import pages
from flywheel_ml.server.ui_app import ASGIApp, Message, Receive, Scope, Send

_MAX_PATH = 4096
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
SESSION_COOKIE = "flywheel_token"
"""The cookie a browser holds its token in after signing in at ``/login``."""
UNMATCHED = "<unmatched>"
"""The route label of requests that match no route (kept out of the metrics' label values)."""


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class RequestMetrics:
    """Request counts and total seconds by method, route template and status."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str, int], int] = {}
        self.seconds: dict[tuple[str, str], float] = {}

    def record(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one request (called on the event loop thread only, so no lock)."""
        # Methods are caller-chosen strings: unusual ones share one label, so metrics stay bounded.
        method = method if method in _METHODS else "OTHER"
        key = (method, route, status)
        self.counts[key] = self.counts.get(key, 0) + 1
        self.seconds[(method, route)] = self.seconds.get((method, route), 0.0) + seconds

    def render(self) -> str:
        """The Prometheus text exposition format (version 0.0.4)."""
        lines = [
            "# HELP flywheel_http_requests_total Requests answered, by method, route and status.",
            "# TYPE flywheel_http_requests_total counter",
        ]
        for (method, route, status), count in sorted(self.counts.items()):
            lines.append(
                f'flywheel_http_requests_total{{method="{method}",route="{_escape(route)}",'
                f'status="{status}"}} {count}'
            )
        lines += [
            "# HELP flywheel_http_request_seconds_total Time spent answering, by method, route.",
            "# TYPE flywheel_http_request_seconds_total counter",
        ]
        for (method, route), total in sorted(self.seconds.items()):
            lines.append(
                f'flywheel_http_request_seconds_total{{method="{method}",'
                f'route="{_escape(route)}"}} {total:.6f}'
            )
        return "\n".join(lines) + "\n"


class TeamGate:
    """ASGI middleware: authenticate, authorise by the policy table, count and log.

    Args:
        app: the application behind the gate.
        routes: the app's route list (the live list: a route appended later is gated too).
        access: checks the presented tokens.
        metrics: where requests are counted.
        log: where one JSON line per request is written (None: no access log).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        routes: Sequence[BaseRoute],
        access: Access,
        metrics: RequestMetrics,
        log: IO[str] | None,
    ) -> None:
        self.app = app
        self.routes = routes
        self.access = access
        self.metrics = metrics
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            # No websocket route is in the policy table: deny by default, before accepting.
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)  # lifespan
            return
        start = time.perf_counter()
        method = str(scope["method"]).upper()
        template = self._template(scope)
        status = [500]
        principal: Principal | None = None

        async def watched(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
            await send(message)

        try:
            path = str(scope.get("path", ""))
            query = unquote_to_bytes(bytes(scope.get("query_string", b"")))
            if "\x00" in path or b"\x00" in query or len(path) > _MAX_PATH:
                # Never a valid name or value, and PostgreSQL refuses NUL in text (a query
                # would fail with 500): stop it at the door.
                await _refuse(scope, receive, watched, _bad_path())
                return
            if template is not None and is_public(method, template):
                await self.app(scope, receive, watched)
                return
            try:
                principal = await self._authenticate(scope)
                if template is not None:
                    _authorise(principal, method, template)
            except FlywheelError as exc:
                await _refuse(scope, receive, watched, exc)
                return
            scope[pages.PRINCIPAL_SCOPE_KEY] = principal
            await self.app(scope, receive, watched)
        finally:
            elapsed = time.perf_counter() - start
            route = template or UNMATCHED
            self.metrics.record(method, route, status[0], elapsed)
            if self.log is not None:
                self._log(scope, method, route, status[0], elapsed, principal)

    def _template(self, scope: Scope) -> str | None:
        # The router's own matching, in its order: a full match names the route; a route that
        # matches the path but not the method (405) or no route (404) name nothing.
        for route in self.routes:
            match, _child = route.matches(scope)
            if match == Match.FULL:
                return str(getattr(route, "path", ""))
        return None

    async def _authenticate(self, scope: Scope) -> Principal:
        header = cookie = ""
        for key, value in scope.get("headers", []):
            if key == b"authorization":
                header = value.decode("latin-1")
            elif key == b"cookie":
                cookie = value.decode("latin-1")
        token = bearer_token(header) if header else None
        if token is None and cookie:
            # A browser signed in at /login (HttpOnly, SameSite=Strict cookie).
            token = cookie_parser(cookie).get(SESSION_COOKIE) or None
        if token is None:
            raise AuthenticationError(
                "authentication required",
                hint="send 'Authorization: Bearer <token>' or sign in at /login (an admin "
                "creates tokens with `flywheel server token create NAME`)",
            )
        return await run_in_threadpool(self.access.authenticate, token)

    def _log(
        self,
        scope: Scope,
        method: str,
        route: str,
        status: int,
        elapsed: float,
        principal: Principal | None,
    ) -> None:
        client = scope.get("client")
        entry: dict[str, Any] = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "method": method,
            "path": str(scope.get("path", ""))[:300],
            "route": route,
            "status": status,
            "ms": round(elapsed * 1000, 2),
            "user": principal.user if principal is not None else None,
            "client": client[0] if client else None,
        }
        assert self.log is not None
        self.log.write(orjson.dumps(entry).decode() + "\n")
        self.log.flush()


def _bad_path() -> FlywheelError:
    return FlywheelError(
        f"the path or query holds a NUL byte, or the path is longer than {_MAX_PATH} characters",
        hint="names are letters, digits and . _ - @",
    )


def _authorise(principal: Principal, method: str, template: str) -> None:
    needed = required_role(method, template)
    if needed is None:
        raise ForbiddenError(
            f"{method} {template} has no access policy, so it is closed to every role",
            hint="add the route to POLICY in flywheel_ml/core/policy.py",
        )
    if principal.role < needed:
        raise ForbiddenError(
            f"{method} {template} needs the role {needed.label} or higher; "
            f"{principal.user} is {principal.role.label}",
            hint="ask an admin for a higher role",
        )


async def _refuse(scope: Scope, receive: Receive, send: Send, exc: FlywheelError) -> None:
    request = Request(scope, receive)
    response = await run_in_threadpool(pages.error_response, request, exc)
    if exc.http_status == 401:
        response.headers["www-authenticate"] = 'Bearer realm="flywheel"'
    await response(scope, receive, send)
