"""The store API of the team server: ``POST /api/v1/stores/{store}/{method}``, one route each.

This is what :mod:`flywheel_ml.backends.rest` calls, so the stages of a client workspace run
on this server's stores. Each route is one method of one store Protocol
(:data:`flywheel_ml.backends.stores.STORE_PROTOCOLS`) listed in the policy table
(:data:`flywheel_ml.core.policy.STORE_ROLES`); nothing else is reachable, and the gate has
checked the caller's role before a handler runs.

The body is ``{"args": {name: value}}`` in :mod:`flywheel_ml.backends.wire` encoding, keyword
arguments only, checked against the Protocol's signature. The answer is ``{"result": value}``,
or a Flywheel error as JSON with its HTTP status.

- **Who wrote it** is the signed-in user: an ``actor`` argument and the ``created_by``,
  ``author``, ``actor`` and ``updated_by`` fields of entities sent are replaced by the token's
  user, whatever the client put there.
- **Callbacks** (a store method that takes a function run inside its transaction, such as
  ``plan.update_page``) cannot travel, so they are made optimistic: the client sends the
  results it computed, each with the state it computed it from (``cases``); the server runs the
  method with a function that answers from those, and when the store asks about a state the
  client has not seen, the write is refused with 409 ``stale`` and that state, from which the
  client computes one more case and sends the call again.
- **Idempotency**: a request with an ``Idempotency-Key`` header is answered once; a retry gets
  the kept answer (:mod:`flywheel_ml.backends.sql.request_key_store`).
"""

from __future__ import annotations

import dataclasses
import inspect
import time
import typing
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from flywheel_ml.backends import wire
from flywheel_ml.backends.sql.request_key_store import SqlRequestKeys
from flywheel_ml.backends.stores import CALLBACK_PARAMETERS, store_protocol
from flywheel_ml.backends.wire_types import conforms
from flywheel_ml.core.access import ForbiddenError, Role
from flywheel_ml.core.digests import parse_digest
from flywheel_ml.core.identity import acting_as
from flywheel_ml.core.policy import STORE_ARGUMENT_ROLES, STORE_ROLES
from flywheel_ml.errors import (
    ConflictError,
    FlywheelError,
    InvalidInputError,
    PermissionDeniedError,
)
from flywheel_ml.server import pages

MAX_BODY = 256 * 1024 * 1024
"""The largest store call accepted (a metric batch of 20,000 points is about 1 MB)."""
_WAIT_FOR_ANSWER_S = 30.0
_STAMPED_FIELDS = ("created_by", "author", "actor", "updated_by")


class StaleStateError(ConflictError):
    """A callback's expected state is not the state the store holds (the client retries)."""

    code = "stale"

    def __init__(self, current: Any) -> None:
        super().__init__(
            "the state changed while the request was made", hint="compute again from `current`"
        )
        self.current = current


def routes() -> list[BaseRoute]:
    """One POST route per store method of the policy table."""
    found: list[BaseRoute] = []
    for store, methods in STORE_ROLES.items():
        for method in methods:
            found.append(
                Route(
                    f"/api/v1/stores/{store}/{method}",
                    _handler(store, method),
                    methods=["POST"],
                    include_in_schema=False,
                )
            )
    return found


def _handler(store: str, method: str) -> Callable[[Request], Any]:
    protocol_method = getattr(store_protocol(store), method)
    parameters = {
        name: p
        for name, p in inspect.signature(protocol_method).parameters.items()
        if name != "self"
    }
    callback = CALLBACK_PARAMETERS.get((store, method))
    route = f"/api/v1/stores/{store}/{method}"
    hints = {
        name: hint
        for name, hint in typing.get_type_hints(protocol_method).items()
        if name in parameters and name != callback
    }

    async def handle(request: Request) -> Response:
        body = await _read_body(request)
        user, role = _caller(request)
        key = request.headers.get("idempotency-key", "").strip()
        ws = pages.workspace(request)

        def call() -> tuple[int, bytes, bool]:
            """The answer's status and body, and whether it is kept for retries."""
            try:
                args = _arguments(wire.loads(body), parameters, route)
                _check_types(args, hints, route)
                _check_arguments(store, method, args, user, role)
                _check_references(ws, store, method, args)
                args = _stamped(args, user, takes_actor="actor" in parameters)
                if callback is not None:
                    args[callback] = _optimistic(args[callback], user, route)
                target = getattr(ws.stores.store(store), method)
                with acting_as(user):  # what the store records by itself is the caller's too
                    result = target(**args)
                return 200, wire.dumps({"result": result}), True
            except StaleStateError as exc:
                # Nothing was written: a retry with the same key must compute again.
                answer = {**exc.to_dict(), "current": exc.current}
                return exc.http_status, orjson.dumps(answer), False
            except FlywheelError as exc:
                return exc.http_status, orjson.dumps(exc.to_dict()), True

        if not key:
            status, payload, _keep = await run_in_threadpool(call)
        else:
            status, payload = await run_in_threadpool(_once, ws, key, user, route, call)
        return Response(payload, status_code=status, media_type="application/json")

    return handle


def _caller(request: Request) -> tuple[str, Role]:
    """The signed-in user and role (the team gate put them in the scope; these routes need one)."""
    principal = request.scope.get(pages.PRINCIPAL_SCOPE_KEY)
    if principal is None:
        raise PermissionDeniedError("the store API needs a signed-in user", hint="send a token")
    return str(principal.user), principal.role


def _check_arguments(store: str, method: str, args: dict[str, Any], user: str, role: Role) -> None:
    """Refuse an argument that needs a higher role than the method (STORE_ARGUMENT_ROLES)."""
    for name, value in args.items():
        needed = STORE_ARGUMENT_ROLES.get((store, method, name))
        if needed is not None and value and role < needed:
            raise ForbiddenError(
                f"{store}.{method} with {name}={value!r} needs the role {needed.label} or higher; "
                f"{user} is {role.label}",
                hint="ask a lead to do it",
            )


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise InvalidInputError(
            f"the request body is over {MAX_BODY >> 20} MB", hint="send smaller batches"
        )
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise InvalidInputError(
                f"the request body is over {MAX_BODY >> 20} MB", hint="send smaller batches"
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _arguments(
    payload: Any, parameters: dict[str, inspect.Parameter], route: str
) -> dict[str, Any]:
    """The keyword arguments of the call, checked against the Protocol's parameters."""
    if not isinstance(payload, dict) or not isinstance(payload.get("args", {}), dict):
        raise InvalidInputError(f"{route} takes a JSON object {{'args': {{...}}}}", hint="")
    args: dict[str, Any] = dict(payload.get("args", {}))
    unknown = sorted(set(args) - set(parameters))
    if unknown:
        raise InvalidInputError(
            f"{route} has no argument {unknown[0]!r}",
            hint=f"its arguments are: {', '.join(parameters) or 'none'}",
        )
    missing = [
        name
        for name, p in parameters.items()
        if p.default is inspect.Parameter.empty and name not in args
    ]
    if missing:
        raise InvalidInputError(f"{route} needs argument {missing[0]!r}", hint="")
    return args


# Store writes that name an object by digest: the object must be on the server already (the
# client uploads before it records), so no record can point at bytes that are not there.
_REFERENCED_OBJECTS: dict[tuple[str, str], tuple[str, str]] = {
    ("data", "create_version"): ("version", "digest"),
    ("track", "add_artifact"): ("artifact", "digest"),
}


def _check_references(ws: Any, store: str, method: str, args: dict[str, Any]) -> None:
    reference = _REFERENCED_OBJECTS.get((store, method))
    if reference is None:
        return
    argument, field = reference
    digest = getattr(args.get(argument), field, None)
    if not isinstance(digest, str) or not ws.stores.data_objects.exists(parse_digest(digest)):
        raise InvalidInputError(
            f"{store}.{method} names object {digest!r}, which the server does not have",
            hint="upload the object before recording it",
        )


def _check_types(args: dict[str, Any], hints: dict[str, Any], route: str) -> None:
    for name, value in args.items():
        hint = hints.get(name)
        if hint is not None and not conforms(value, hint):
            shown = getattr(hint, "__name__", None) if isinstance(hint, type) else None
            shown = shown or str(hint).replace("collections.abc.", "").replace("typing.", "")
            raise InvalidInputError(
                f"{route}: argument {name!r} must be {shown}",
                hint="send values encoded by flywheel_ml's REST client",
            )


def _stamped(args: dict[str, Any], user: str, *, takes_actor: bool) -> dict[str, Any]:
    """``args`` with every who-wrote-it value set to ``user`` (given or defaulted)."""
    out = {name: _stamp(value, user) for name, value in args.items()}
    if takes_actor:
        out["actor"] = user
    return out


def _stamp(value: Any, user: str) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        names = {f.name for f in dataclasses.fields(value)}
        changes = {name: user for name in _STAMPED_FIELDS if name in names}
        return dataclasses.replace(value, **changes) if changes else value
    if isinstance(value, list):
        return [_stamp(v, user) for v in value]
    if isinstance(value, tuple):
        return tuple(_stamp(v, user) for v in value)
    return value


def _optimistic(spec: Any, user: str, route: str) -> Callable[[Any], Any]:
    """The function a callback parameter stands for: the client's results, by the state each
    was computed from; a state the client has not seen is refused (and reported) as stale."""
    cases = spec.get("cases") if isinstance(spec, dict) else None
    if not isinstance(cases, list) or not all(
        isinstance(c, (list, tuple)) and len(c) == 2 for c in cases
    ):
        raise InvalidInputError(
            f"{route} takes its callback as {{'cases': [[state, result], ...]}}", hint=""
        )
    known = {_canonical(expect): _stamp(result, user) for expect, result in cases}

    def change(current: Any) -> Any:
        seen = wire.encode(current)
        found = known.get(orjson.dumps(seen, option=orjson.OPT_SORT_KEYS), _UNSEEN)
        if found is _UNSEEN:
            raise StaleStateError(seen)
        return found

    return change


_UNSEEN = object()


def _canonical(value: Any) -> bytes:
    return orjson.dumps(wire.encode(value), option=orjson.OPT_SORT_KEYS)


def _once(
    ws: Any, key: str, user: str, route: str, call: Callable[[], tuple[int, bytes, bool]]
) -> tuple[int, bytes]:
    """Run ``call`` at most once for ``key``; a retry gets the first attempt's answer."""
    if len(key) > 200 or not key.isprintable():
        raise InvalidInputError(
            "the Idempotency-Key must be at most 200 printable characters",
            hint="send a UUID per write",
        )
    keys = SqlRequestKeys(ws.database)
    kept = keys.claim(key, user=user, route=route, at=datetime.now(UTC))
    if kept is None:
        try:
            status, payload, keep = call()
        except BaseException:
            keys.release(key)
            raise
        if keep:
            keys.complete(key, status=status, body=payload)
        else:
            keys.release(key)
        return status, payload
    if kept.user != user or kept.route != route:
        raise ConflictError(
            "this Idempotency-Key was used for another request", hint="use a new key per write"
        )
    deadline = time.monotonic() + _WAIT_FOR_ANSWER_S
    while kept is not None and kept.status is None and time.monotonic() < deadline:
        time.sleep(0.05)
        kept = keys.get(key)
    if kept is None:
        return _once(ws, key, user, route, call)
    if kept.status is None or kept.body is None:
        raise ConflictError(
            "an earlier attempt of this request has no recorded answer yet",
            hint="check whether the write happened before sending it with a new key",
        )
    return kept.status, kept.body
