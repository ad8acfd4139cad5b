"""What every UI route shares: templates, JSON, the workspace, write permission and errors.

A stage router (``server/routes/<stage>.py``) is a one-screen adapter: it gathers a page's data
with a plain function, then answers it twice, as HTML with :func:`render` at ``/ui/<stage>...``
and as JSON with :func:`json_response` at ``/api/v1/<stage>...``. Handlers are plain (sync)
functions: Starlette runs them in its thread pool, so a slow query never blocks the event loop.

Writes go through :func:`write_action`: it refuses with 403 unless the server was started with
``--write``, checks the form token of HTML forms (a page on another site cannot post to the
local UI), runs the stage verb with the acting user and records the write in the activity log
(who, when, from where).
"""

from __future__ import annotations

import dataclasses
import math
import secrets
from collections.abc import Callable, Mapping
from datetime import date, datetime
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qs, quote

import jinja2
import orjson
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from flywheel_ml.core.identity import current_actor
from flywheel_ml.core.lifecycle import STAGES
from flywheel_ml.errors import FlywheelError, InvalidInputError, PermissionDeniedError

if TYPE_CHECKING:
    from flywheel_ml.workspace import Workspace

T = TypeVar("T")

_ACTOR_HEADER = "x-flywheel-user"
PRINCIPAL_SCOPE_KEY = "flywheel.principal"
"""Where the team server's auth middleware puts the authenticated caller in the ASGI scope."""
_MAX_FORM_BYTES = 64 << 10


class WritesDisabledError(PermissionDeniedError):
    """The UI server was started read-only."""

    code = "writes_disabled"


@dataclasses.dataclass(frozen=True, slots=True)
class UiSettings:
    """How the UI server was started.

    Attributes:
        write: whether write actions (promote, rollback, labels...) are allowed.
        form_token: a random token every HTML form carries; posts without it are refused.
        actor: who writes are recorded as when a request names nobody.
        stage_pages: the stages that have a router (the others show "no page yet").
    """

    write: bool
    form_token: str
    actor: str
    stage_pages: frozenset[str]


def new_settings(*, write: bool, stage_pages: frozenset[str]) -> UiSettings:
    """Settings with a fresh form token; writes are recorded as the user who started the UI."""
    return UiSettings(
        write=write,
        form_token=secrets.token_urlsafe(24),
        actor=current_actor(),
        stage_pages=stage_pages,
    )


# -- the workspace -------------------------------------------------------------------------------


def workspace(request: Request) -> Workspace:
    """The workspace the UI serves."""
    ws: Workspace = request.app.state.ws
    return ws


def settings(request: Request) -> UiSettings:
    """How the UI server was started."""
    found: UiSettings = request.app.state.ui
    return found


# -- query parameters ----------------------------------------------------------------------------


def query_int(request: Request, name: str, default: int, *, lo: int = 0, hi: int = 10**9) -> int:
    """An integer query parameter clamped to ``lo..hi``.

    Raises:
        InvalidInputError: the value is not an integer.
    """
    raw = request.query_params.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInputError(
            f"query parameter {name}={raw[:40]!r} is not a whole number", hint=f"e.g. {name}=1"
        ) from None
    return max(lo, min(hi, value))


def query_text(request: Request, name: str, default: str = "", *, limit: int = 2000) -> str:
    """A text query parameter, stripped and cut to ``limit`` characters.

    Raises:
        InvalidInputError: the value holds a NUL byte (PostgreSQL refuses them in text).
    """
    value = request.query_params.get(name, default)
    if "\x00" in value:
        raise InvalidInputError(f"query parameter {name} holds a NUL byte", hint="remove it")
    return value.strip()[:limit]


# -- rendering -----------------------------------------------------------------------------------


@cache
def environment() -> jinja2.Environment:
    """The Jinja2 environment of the UI templates (autoescaped; undefined names fail loudly)."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("flywheel_ml.server", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = format_number
    env.filters["when"] = format_when
    env.filters["ago"] = format_ago
    env.filters["size"] = format_size
    env.filters["pct"] = format_percent
    env.filters["urlq"] = lambda text: quote(str(text), safe="")
    env.filters["script_json"] = script_json
    env.globals["lifecycle"] = STAGES
    return env


def script_json(data: Any) -> Markup:
    """``data`` as JSON safe inside ``<script type="application/json">`` (no ``</script>``)."""
    text = orjson.dumps(data, default=_default, option=orjson.OPT_SERIALIZE_NUMPY).decode()
    for char, escaped in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e")):
        text = text.replace(char, escaped)
    return Markup(text)


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
    stage: str = "",
) -> HTMLResponse:
    """Render ``template`` (under ``server/templates``) as a full page.

    Every template sees ``request``, ``ui`` (the :class:`UiSettings`), ``project`` (the
    workspace name), ``active`` (the stage highlighted in the navigation) and ``context``.
    """
    values = {**(context or {})}
    values.update(
        request=request, ui=settings(request), project=workspace(request).name, active=stage
    )
    html = environment().get_template(template).render(values)
    return HTMLResponse(html, status_code=status_code)


def json_response(data: Any, *, status_code: int = 200) -> Response:
    """``data`` as JSON (orjson; datetimes ISO 8601, dataclasses as objects, NaN as null)."""
    return Response(
        orjson.dumps(
            data,
            default=_default,
            option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY,
        ),
        status_code=status_code,
        media_type="application/json",
    )


def _default(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def error_response(request: Request, exc: FlywheelError) -> Response:
    """A user error: JSON for ``/api/...``, an error page for everything else."""
    if request.url.path.startswith("/api/"):
        return json_response(exc.to_dict(), status_code=exc.http_status)
    return render(
        request,
        "error.html",
        {"error": exc, "status": exc.http_status},
        status_code=exc.http_status,
    )


# -- writes --------------------------------------------------------------------------------------


async def read_form(request: Request) -> dict[str, str]:
    """The fields of a posted form (urlencoded) or JSON object body, as text."""
    body = await request.body()
    if len(body) > _MAX_FORM_BYTES:
        raise InvalidInputError("the request body is too large", hint="send less than 64 KB")
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "application/json":
        try:
            doc = orjson.loads(body or b"{}")
        except orjson.JSONDecodeError:
            raise InvalidInputError(
                "the body is not valid JSON", hint="send a JSON object"
            ) from None
        if not isinstance(doc, dict):
            raise InvalidInputError("the body must be a JSON object", hint='e.g. {"reason": ""}')
        found = {str(k): "" if v is None else str(v) for k, v in doc.items()}
    else:
        fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        found = {k: v[-1] for k, v in fields.items()}
    if any("\x00" in k or "\x00" in v for k, v in found.items()):
        # No field is ever meant to hold one, and PostgreSQL refuses NUL in text.
        raise InvalidInputError("a field of the body holds a NUL byte", hint="remove it")
    return found


def require_write(request: Request, form: Mapping[str, str] | None = None) -> str:
    """The acting user of a write request, or a refusal.

    Writes need the server started with ``--write``. An HTML form post must carry the form
    token of this server (``form["_token"]``); a JSON request is accepted without it because a
    page of another site cannot send one without a CORS preflight, which this server never
    answers. On the team server the actor is the authenticated user; on the local UI it is the
    ``X-Flywheel-User`` header when given, else the user who started the server.

    Raises:
        WritesDisabledError: the server is read-only (403).
        PermissionDeniedError: a form post without this server's token (403).
    """
    ui = settings(request)
    if not ui.write:
        raise WritesDisabledError(
            "this Flywheel UI was started read-only",
            hint="restart it with `flywheel ui --write` to allow changes",
        )
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/json":
        token = (form or {}).get("_token", "")
        if not secrets.compare_digest(token, ui.form_token):
            raise PermissionDeniedError(
                "the form is stale or came from another site",
                hint="reload the page and submit the form again",
            )
    # The team server authenticated the caller (server/team_auth.py): that user acts, and a
    # header naming someone else is ignored.
    principal = request.scope.get(PRINCIPAL_SCOPE_KEY)
    if principal is not None:
        return str(principal.user)
    named = request.headers.get(_ACTOR_HEADER, "").strip()
    if named and len(named) <= 100 and named.isprintable():
        return named
    return ui.actor


def write_action(
    request: Request,
    *,
    form: Mapping[str, str] | None,
    stage: str,
    kind: str,
    subject: str,
    action: Callable[[str], T],
    detail: Mapping[str, Any] | None = None,
) -> T:
    """Check write permission, run ``action(actor)`` and record the write in the activity log.

    The event is ``stage``/``ui.<kind>`` on ``subject`` with the actor, the time, and
    ``detail`` plus where the request came from. Nothing is recorded when the action fails.

    Raises:
        WritesDisabledError / PermissionDeniedError: see :func:`require_write`.
        FlywheelError: whatever the stage verb raises.
    """
    actor = require_write(request, form)
    result = action(actor)
    client = request.client.host if request.client is not None else ""
    workspace(request).events.record(
        stage=stage,
        kind=f"ui.{kind}",
        subject=subject,
        detail={**(detail or {}), "via": "ui", "client": client},
        actor=actor,
    )
    return result


# -- formatting (template filters) ---------------------------------------------------------------


def format_number(value: Any, digits: int = 4) -> str:
    """A number in at most ``digits`` significant digits; '—' for missing or NaN."""
    if value is None:
        text = "—"
    elif isinstance(value, bool):
        text = str(value).lower()
    elif isinstance(value, int) or (
        isinstance(value, float) and value.is_integer() and abs(value) < 1e15
    ):
        text = f"{int(value):,}"
    elif isinstance(value, float) and math.isfinite(value) and abs(value) >= 10**digits:
        text = f"{value:,.0f}"  # 162,900 rather than 1.629e+05
    elif isinstance(value, float):
        text = "NaN" if math.isnan(value) else f"{value:.{digits}g}"
    else:
        text = str(value)
    return text


def format_when(value: datetime | None) -> str:
    """A UTC time as ``YYYY-MM-DD HH:MM``."""
    return "—" if value is None else f"{value:%Y-%m-%d %H:%M}"


def format_ago(value: datetime | None) -> str:
    """How long ago, e.g. ``5 min ago``."""
    if value is None:
        return "—"
    from flywheel_ml.core.clock import utc_now

    seconds = max(0.0, (utc_now() - value).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{int(seconds // size)} {unit} ago"
    return "just now"


def format_size(value: int | None) -> str:
    """Bytes as B/KB/MB/GB."""
    if value is None:
        return "—"
    size = float(value)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{value} B"


def format_percent(value: float | None, digits: int = 1) -> str:
    """A 0..1 share as a percentage."""
    return "—" if value is None else f"{value * 100:.{digits}f}%"
