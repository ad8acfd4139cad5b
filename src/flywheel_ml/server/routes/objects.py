"""The object API of the team server: bytes by digest, for the REST client's object store.

- ``GET /api/v1/objects/{digest}``: the bytes (loose or packed), streamed.
- ``PUT /api/v1/objects/{digest}``: upload one object. The body is hashed as it is written to a
  temporary file, and only bytes whose digest is the one named are stored, so an upload cannot
  plant bytes under another object's name; a cut-off upload leaves nothing.
- ``POST /api/v1/objects/batch``: many small objects in one body (each an 8-byte little-endian
  length then the bytes), stored with one pack write; answers their digests in order.
- ``POST /api/v1/objects/missing``: which of a JSON list of digests are not stored, so a client
  uploads only what the server lacks.
- ``GET /api/v1/whoami``: the signed-in user and role (``flywheel login`` checks its token).

The path's digest is parsed (``blake3:`` and 64 hex digits) before anything touches storage, so
no request string ever becomes a path.
"""

from __future__ import annotations

import os
import struct
import tempfile
from collections.abc import AsyncIterator

import blake3
import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from flywheel_ml.core.digests import Digest, parse_digest
from flywheel_ml.errors import InvalidInputError, PermissionDeniedError
from flywheel_ml.server import pages

_CHUNK = 1 << 20
MAX_BATCH = 256 * 1024 * 1024
"""The largest batch body accepted."""
_MAX_LIST = 100_000


def routes() -> list[BaseRoute]:
    """The object routes and ``whoami``."""
    return [
        Route("/api/v1/objects/batch", _put_batch, methods=["POST"], include_in_schema=False),
        Route("/api/v1/objects/missing", _missing, methods=["POST"], include_in_schema=False),
        Route("/api/v1/objects/{digest}", _get, methods=["GET"], include_in_schema=False),
        Route("/api/v1/objects/{digest}", _put, methods=["PUT"], include_in_schema=False),
        Route("/api/v1/whoami", _whoami, include_in_schema=False),
    ]


def _whoami(request: Request) -> Response:
    principal = request.scope.get(pages.PRINCIPAL_SCOPE_KEY)
    if principal is None:
        raise PermissionDeniedError("no signed-in user", hint="send a token")
    return pages.json_response(
        {
            "user": principal.user,
            "role": principal.role.label,
            "workspace": pages.workspace(request).name,
        }
    )


async def _get(request: Request) -> Response:
    digest = parse_digest(request.path_params["digest"])
    objects = pages.workspace(request).stores.data_objects
    reader = await run_in_threadpool(objects.open, digest)

    async def chunks() -> AsyncIterator[bytes]:
        try:
            while True:
                block = await run_in_threadpool(reader.read, _CHUNK)
                if not block:
                    return
                yield block
        finally:
            reader.close()

    return StreamingResponse(chunks(), media_type="application/octet-stream")


async def _put(request: Request) -> Response:
    digest = parse_digest(request.path_params["digest"])
    ws = pages.workspace(request)
    tmp_dir = ws.settings.state_dir / "uploads"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=tmp_dir, suffix=".part")
    hasher = blake3.blake3()
    try:
        with os.fdopen(fd, "wb") as out:
            async for chunk in request.stream():
                hasher.update(chunk)
                await run_in_threadpool(out.write, chunk)
        got = Digest("blake3:" + hasher.hexdigest())
        if got != digest:
            raise InvalidInputError(
                f"the uploaded bytes have digest {got}, not {digest}",
                hint="upload the object's exact bytes",
            )
        await run_in_threadpool(ws.stores.data_objects.put_file, tmp, link=True)
    finally:
        os.unlink(tmp)
    return pages.json_response({"digest": digest}, status_code=201)


async def _put_batch(request: Request) -> Response:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BATCH:
            raise InvalidInputError(
                f"a batch of objects is over {MAX_BATCH >> 20} MB", hint="send smaller batches"
            )
    blobs = _split_frames(bytes(body))
    digests = await run_in_threadpool(pages.workspace(request).stores.data_objects.put_many, blobs)
    return pages.json_response({"digests": digests}, status_code=201)


def _split_frames(body: bytes) -> list[bytes]:
    """The blobs of a batch body (8-byte little-endian length, then the bytes, repeated)."""
    blobs: list[bytes] = []
    view = memoryview(body)
    at = 0
    while at < len(view):
        if at + 8 > len(view):
            raise InvalidInputError("a batch of objects ends inside a length", hint="")
        (size,) = struct.unpack_from("<Q", view, at)
        at += 8
        if at + size > len(view):
            raise InvalidInputError("a batch of objects ends inside an object", hint="")
        blobs.append(bytes(view[at : at + size]))
        at += size
    return blobs


async def _missing(request: Request) -> Response:
    try:
        listed = orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        raise InvalidInputError("the body is not a JSON list of digests", hint="") from exc
    if not isinstance(listed, list) or len(listed) > _MAX_LIST:
        raise InvalidInputError(
            f"send a JSON list of at most {_MAX_LIST} digests", hint="split the list"
        )
    digests = [parse_digest(str(d)) for d in listed]
    objects = pages.workspace(request).stores.data_objects

    def absent() -> list[str]:
        return [d for d in digests if not objects.exists(d)]

    return pages.json_response({"missing": await run_in_threadpool(absent)})
