"""The team server in process: every route against every role and bad token (the role matrix),
deny by default, writes recorded as the authenticated user, the path-traversal corpus against
every route with a path parameter, metrics, readiness and the JSON access log."""

from __future__ import annotations

import io
import os
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import orjson
import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

from flywheel_ml.backends.sql.auth_store import SqlAuthStore
from flywheel_ml.core.access import ROLE_NAMES, Role, TokenRecord, new_token, secret_digest
from flywheel_ml.core.clock import utc_now
from flywheel_ml.core.policy import POLICY, PUBLIC_ROUTES, is_public, required_role
from flywheel_ml.server.team_app import create_team_app
from tests.server.team_live import role_tokens, seed_team_project
from tests.ui_fixtures import UiProject

BASE = "http://127.0.0.1"
BAD_TOKENS = ("none", "expired", "revoked", "forged", "malformed")


@dataclass
class Team:
    project: UiProject
    app: Starlette
    log: io.StringIO
    tokens: dict[str, str]  # a role name or a BAD_TOKENS name -> the token sent


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Team]:
    project = seed_team_project(tmp_path_factory.mktemp("team") / "ws")
    ws = project.ws
    tokens: dict[str, str] = {"none": "", **role_tokens(ws)}
    # An admin's token that expired an hour ago, and one that was revoked.
    token, token_id, secret = new_token()
    SqlAuthStore(ws.database).add_token(
        TokenRecord(
            id=token_id,
            user="admin-user",
            secret_sha256=secret_digest(secret),
            created_at=utc_now() - timedelta(days=2),
            expires_at=utc_now() - timedelta(hours=1),
        )
    )
    tokens["expired"] = token
    revoked = ws.access.create_token("admin-user")
    ws.access.revoke_token(revoked.record.id)
    tokens["revoked"] = revoked.token
    tokens["forged"] = tokens["admin"][:-6] + ("AAAAAA" if tokens["admin"][-1] != "A" else "BBBBBB")
    tokens["malformed"] = "admin"
    log = io.StringIO()
    app = create_team_app(ws, access_log=log)
    try:
        yield Team(project=project, app=app, log=log, tokens=tokens)
    finally:
        ws.close()


def _headers(team: Team, who: str, **extra: str) -> dict[str, str]:
    token = team.tokens[who]
    return {**({"authorization": f"Bearer {token}"} if token else {}), **extra}


def _concrete(template: str, project: UiProject) -> str:
    """A real URL for a route template, with path parameters that name seeded records."""
    if template == "/static":
        return "/static/app.css"
    values = {
        "ref": project.champion if "/registry/" in template else "digits@latest",
        "name": {"/ui/track": "lineage/packages.txt", "/ui/regi": project.model}.get(
            template[:9], "digits"
        ),
        "model": project.model,
        "action": "rollback",
        "run_id": project.good_run,
        "key": "loss",
    }
    if "/registry/" in template:
        values["name"] = project.model
    queries = {
        "/data/diff": "?old=digits@v1&new=digits@v2",
        "/track/compare": f"?run={project.good_run}&run={project.weak_run}",
    }
    query = next((q for end, q in queries.items() if template.endswith(end)), "")
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: values.get(m.group(1), "x"), template) + query


def _calls(app: Starlette) -> list[tuple[str, str]]:
    """(method, template) of every route of the app, HEAD left out (it follows GET)."""
    found: list[tuple[str, str]] = []
    for route in app.routes:
        if isinstance(route, Mount):
            found.append(("GET", route.path))
        elif isinstance(route, Route):
            found += [(m, route.path) for m in sorted(route.methods or {"GET"}) if m != "HEAD"]
    return found


def test_role_matrix_every_route_every_role_and_bad_token(team: Team) -> None:
    calls = _calls(team.app)
    assert len(calls) >= 40 and ("POST", "/api/v1/serve/{model}/{action}") in calls
    wrong: list[str] = []
    with TestClient(team.app, base_url=BASE, follow_redirects=False) as client:
        for method, template in calls:
            url = _concrete(template, team.project)
            if method == "POST":
                # Allowed callers reach the handler and get "no such model": nothing changes.
                url = url.replace(team.project.model, "no-such-model")
            for who in (*BAD_TOKENS, *ROLE_NAMES):
                answer = client.request(
                    method, url, headers=_headers(team, who), json={} if method == "POST" else None
                )
                status = answer.status_code
                if is_public(method, template):
                    # No token asked; POST /login itself refuses a post without its form token.
                    expected = "ok" if method == "GET" else "public"
                elif who in BAD_TOKENS:
                    expected = "401"
                else:
                    needed = required_role(method, template)
                    allowed = needed is not None and Role[who.upper()] >= needed
                    expected = "ok" if allowed else "403"
                if expected == "public":
                    good = status < 500 and status != 401
                elif expected == "ok":
                    # A page without parameters must render; one naming a record may answer
                    # 404/409/422 for records the seed lacks (and POSTs name none), never 5xx.
                    plain = "{" not in template and method == "GET"
                    good = status < 400 if plain else status < 500 and status not in (401, 403)
                else:
                    good = str(status) == expected
                    if template.startswith("/api/"):
                        good = good and answer.json()["error"] in ("unauthenticated", "forbidden")
                if not good:
                    wrong.append(f"{method} {url} as {who}: {status} (expected {expected})")
    assert not wrong, "\n".join(wrong)


def test_every_route_has_a_rule_and_every_rule_a_route(team: Team) -> None:
    # The matrix above walks the app's own route list, so a new endpoint is called by it; here
    # a route without a rule (closed to all by default) or a rule without a route fails loudly.
    calls = set(_calls(team.app))
    rules = set(POLICY) | set(PUBLIC_ROUTES)
    assert not calls - rules, f"routes with no rule in core/policy.py: {sorted(calls - rules)}"
    assert not rules - calls, f"rules naming no route: {sorted(rules - calls)}"


def test_a_route_missing_from_the_policy_table_is_denied_to_everyone(team: Team) -> None:
    ws = team.project.ws
    app = create_team_app(ws)

    def secret_page(request: Request) -> PlainTextResponse:
        return PlainTextResponse("should never be seen")

    app.router.routes.append(Route("/api/v1/new-endpoint", secret_page))
    with TestClient(app, base_url=BASE) as client:
        assert client.get("/api/v1/new-endpoint").status_code == 401
        for role in ROLE_NAMES:
            answer = client.get("/api/v1/new-endpoint", headers=_headers(team, role))
            assert answer.status_code == 403, role
            assert answer.json()["error"] == "forbidden"
            assert "no access policy" in answer.json()["message"]


def test_websockets_are_refused_before_they_are_accepted(team: Team) -> None:
    from starlette.routing import WebSocketRoute
    from starlette.websockets import WebSocket, WebSocketDisconnect

    async def echo(socket: WebSocket) -> None:
        await socket.accept()
        await socket.send_text("open")

    app = create_team_app(team.project.ws)
    app.router.routes.append(WebSocketRoute("/ws", echo))
    with TestClient(app, base_url=BASE) as client:
        with pytest.raises(WebSocketDisconnect) as closed:
            with client.websocket_connect("/ws", headers=_headers(team, "admin")) as socket:
                socket.receive_text()
        assert closed.value.code == 1008


def test_writes_need_a_lead_and_record_the_authenticated_user(team: Team) -> None:
    ws, model = team.project.ws, team.project.model
    before = ws.serve.get(model)
    url = f"/api/v1/serve/{model}/promote"
    with TestClient(team.app, base_url=BASE) as client:
        refused = client.post(
            url, headers=_headers(team, "scientist"), json={"reason": "not mine to do"}
        )
        assert refused.status_code == 403
        assert ws.serve.get(model).revision == before.revision
        confirm = client.get(f"/ui/serve/{model}/promote", headers=_headers(team, "lead"))
        assert "Recorded as lead-user" in confirm.text
        done = client.post(
            url,
            headers=_headers(team, "lead", **{"x-flywheel-user": "mallory"}),
            json={"reason": "canary looks fine"},
        )
    assert done.status_code == 200, done.text
    after = ws.serve.get(model)
    assert after.champion == before.canary
    assert after.updated_by == "lead-user"
    recorded = [e for e in ws.events.recent(limit=20) if e.kind == "ui.promote"]
    assert recorded and recorded[0].actor == "lead-user"


PAYLOADS = (
    "../../../../../../../../etc/passwd",
    "..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
    "%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "%252e%252e%252fetc%252fpasswd",
    "....//....//....//etc/passwd",
    "..;/..;/etc/passwd",
    "/etc/passwd",
    "%2fetc%2fpasswd",
    "..\\..\\..\\..\\windows\\win.ini",
    "..%5c..%5c..%5cwindows%5cwin.ini",
    "C:\\Windows\\win.ini",
    "C:%5cWindows%5cwin.ini",
    "model%00.txt",
    "%00",
    "..%00/..%00/etc/passwd",
    ".",
    "..",
    "b" * 1000,
    "a" * 5000,
)


def _raw_request(
    portal: Any, app: Starlette, method: str, raw_path: str, headers: dict[str, str]
) -> Any:
    """Send ``raw_path`` to the app as a server would (no client-side normalising of ``..``).

    Like uvicorn: ``raw_path`` is the bytes as sent, ``path`` their percent-decoding. Runs on
    the TestClient's event loop thread (``portal``): this thread may have a loop running
    already (Playwright's, when browser tests ran before in this process).
    """

    async def call() -> tuple[int, bytes]:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": unquote(raw_path),
            "raw_path": raw_path.encode("ascii"),
            "root_path": "",
            "query_string": b"",
            "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"application/json")]
            + [(k.encode(), v.encode()) for k, v in headers.items()],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 80),
            "state": {},
        }
        body_sent = False
        status = 0
        chunks: list[bytes] = []

        async def receive() -> dict[str, Any]:
            nonlocal body_sent
            if body_sent:
                return {"type": "http.disconnect"}
            body_sent = True
            return {"type": "http.request", "body": b"{}", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        try:
            await app(scope, receive, send)
        except Exception as exc:  # a crash is a 500, reported with the others
            return 500, repr(exc)[:200].encode()
        return status, b"".join(chunks)

    return portal.call(call)


def test_path_traversal_corpus_answers_4xx_and_reads_nothing_outside(
    team: Team, tmp_path: Path
) -> None:
    marker = f"FLYWHEEL-CANARY-{os.urandom(6).hex()}"
    outside = tmp_path / "outside" / "secret.txt"
    outside.parent.mkdir()
    outside.write_text(marker)
    payloads = (*PAYLOADS, str(outside), "../" * 12 + str(outside).lstrip("/"))
    targets = [
        (m, t) for m, t in _calls(team.app) if "{" in t
    ]  # every route with a name/id parameter
    assert len(targets) >= 15
    wrong: list[str] = []
    with TestClient(team.app, base_url=BASE) as client:
        assert client.portal is not None
        for method, template in targets:
            wrong += _corpus(client.portal, team, method, template, payloads, marker)
    assert not wrong, "\n".join(wrong)


def _corpus(
    portal: Any, team: Team, method: str, template: str, payloads: tuple[str, ...], marker: str
) -> list[str]:
    wrong: list[str] = []
    other = _concrete(template, team.project)
    for param in re.findall(r"\{(\w+)(?::\w+)?\}", template):
        for payload in payloads:
            # Put the payload in this parameter only; the others name real records.
            raw = re.sub(
                r"\{(\w+)(?::\w+)?\}",
                lambda m, p=param, pl=payload: pl if m.group(1) == p else "{" + m.group(1) + "}",
                template,
            )
            raw = _fill_others(raw, other, template)
            raw = raw.replace(" ", "%20")
            status, body = _raw_request(portal, team.app, method, raw, _headers(team, "admin"))
            if not 400 <= status < 500 or marker.encode() in body or b"root:x:0" in body:
                wrong.append(f"{method} {raw[:120]} -> {status}")
    return wrong


def _fill_others(raw: str, concrete: str, template: str) -> str:
    """Replace the parameters still in ``raw`` with the values ``concrete`` has for them."""
    pattern = "^" + re.sub(r"\\\{\w+(?::\w+)?\\\}", "(.+?)", re.escape(template)) + "$"
    values = re.fullmatch(pattern, concrete)
    assert values is not None
    names = re.findall(r"\{(\w+)(?::\w+)?\}", template)
    for name, value in zip(names, values.groups(), strict=True):
        raw = raw.replace("{" + name + "}", value)
    return raw


def test_probes_metrics_and_json_access_log(team: Team) -> None:
    with TestClient(team.app, base_url=BASE) as client:
        assert client.get("/healthz").json()["ok"] is True
        ready = client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["ready"] is True
        assert client.get("/static/app.css").status_code == 200
        assert client.get("/metrics").status_code == 401
        client.get("/api/v1/plan", headers=_headers(team, "viewer"))
        client.get("/api/v1/plan")
        text = client.get("/metrics", headers=_headers(team, "viewer")).text
    assert "# TYPE flywheel_http_requests_total counter" in text
    assert re.search(
        r'flywheel_http_requests_total\{method="GET",route="/api/v1/plan",status="200"\} \d+', text
    )
    assert re.search(
        r'flywheel_http_requests_total\{method="GET",route="/api/v1/plan",status="401"\} \d+', text
    )
    lines = [orjson.loads(line) for line in team.log.getvalue().splitlines()]
    plan = [e for e in lines if e["path"] == "/api/v1/plan"]
    assert {(e["status"], e["user"]) for e in plan} >= {(200, "viewer-user"), (401, None)}
    assert set(plan[0]) == {"time", "method", "path", "route", "status", "ms", "user", "client"}


def test_the_local_ui_still_needs_no_token(team: Team) -> None:
    from flywheel_ml.server.ui_app import create_ui_app

    with TestClient(create_ui_app(team.project.ws), base_url=BASE) as client:
        assert client.get("/api/v1/plan").status_code == 200
        assert client.get("/readyz").status_code == 404


def test_a_browser_signs_in_with_a_token_and_gets_a_strict_cookie(team: Team) -> None:
    with TestClient(team.app, base_url=BASE, follow_redirects=False) as client:
        page = client.get("/login?next=/ui/plan")
        assert page.status_code == 200
        form_token = re.search(r'name="_token" value="([^"]+)"', page.text)
        assert form_token is not None
        fields = {"_token": form_token.group(1), "next": "/ui/plan"}
        stale = client.post("/login", data={**fields, "_token": "x", "token": team.tokens["lead"]})
        assert stale.status_code == 403
        wrong = client.post("/login", data={**fields, "token": team.tokens["revoked"]})
        assert wrong.status_code == 401 and "revoked" in wrong.text
        assert "set-cookie" not in wrong.headers
        done = client.post("/login", data={**fields, "token": team.tokens["viewer"]})
        assert done.status_code == 303 and done.headers["location"] == "/ui/plan"
        cookie = done.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "expires=" in cookie
        assert client.get("/ui/plan").status_code == 200  # the cookie now authenticates
        assert client.get("/ui/track/runs/x/artifacts/y").status_code == 403  # still a viewer
        away = client.post(
            "/login", data={**fields, "next": "//evil.example/", "token": team.tokens["viewer"]}
        )
        assert away.headers["location"] == "/"
        client.post("/logout")
        client.cookies.clear()
        assert client.get("/ui/plan").status_code == 401
