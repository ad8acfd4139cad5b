"""The prediction gateway: an ASGI app on uvicorn that answers ``/v1/models/{name}/predict``.

The prediction path is a plain ASGI handler (no framework routing on the hot path): read the
body, parse it with orjson into a numpy array (:mod:`.bodies`), route it with the pure
:func:`flywheel_ml.serve.route`, await the micro-batcher (:mod:`.batching`), answer with orjson
and log off the request path (:class:`flywheel_ml.serve.PredictionLog`). Everything else
(``/healthz``, ``/readyz``, ``/metrics``, ``/v1/models``, ``/openapi.json``,
``/v1/admin/sync``) is a small
Starlette app. Every answer names the version that produced it::

    {"model_version": "digits-clf@v3", "predictions": [...], "probabilities": [...],
     "request_id": "..."}

Hot reload and the rollback guarantee are described in :mod:`.live_state`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from flywheel_ml.core.ids import new_id
from flywheel_ml.errors import FlywheelError
from flywheel_ml.serve.predlog import LogEntry, PredictionLog
from flywheel_ml.serve.rollout import route
from flywheel_ml.serve.stage import ServeStage
from flywheel_ml.server.batching import Answer, MicroBatcher, OverloadedError
from flywheel_ml.server.bodies import BodyError, parse_body
from flywheel_ml.server.live_state import LiveModel, LiveState, Snapshot
from flywheel_ml.server.metrics import GatewayMetrics
from flywheel_ml.server.openapi import gateway_openapi

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_log = logging.getLogger("flywheel.gateway")
_PREFIX = "/v1/models/"
_SUFFIX = "/predict"
_JSON_HEADERS = [(b"content-type", b"application/json")]


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    """Limits and timings of a gateway.

    Attributes:
        max_batch_rows: rows predicted together at most.
        max_wait_s: how long a batch may wait for requests still being read.
        max_queue: requests that may wait for the model; more get 503 + Retry-After.
        max_body_bytes: larger bodies get 413.
        max_rows: more rows in one request get 413.
        poll_interval_s: how often the store is checked for deployment moves.
        retry_after_s: the Retry-After sent with 503.
    """

    max_batch_rows: int = 64
    max_wait_s: float = 0.002
    max_queue: int = 1024
    max_body_bytes: int = 64 << 20
    max_rows: int = 100_000
    poll_interval_s: float = 0.5
    retry_after_s: int = 1


class Gateway:
    """The gateway's ASGI application (see the module docstring).

    Args:
        stage: the serve stage whose store and resolver it serves from.
        predlog: where answered rows are logged, or None to log nothing.
        config: limits and timings.
        public_url: the URL to register so deployment moves can reach this gateway; None
            keeps it unregistered (moves are then picked up by polling only).
    """

    def __init__(
        self,
        stage: ServeStage,
        *,
        predlog: PredictionLog | None = None,
        config: GatewayConfig | None = None,
        public_url: str | None = None,
    ) -> None:
        self.stage = stage
        self.config = config or GatewayConfig()
        self.predlog = predlog
        self.public_url = public_url
        self.live = LiveState(stage.store, stage.resolver)
        self.metrics = GatewayMetrics()
        self.batcher: MicroBatcher | None = None
        self._gateway_id: str | None = None
        self._poller: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[Any]] = set()
        self._admin = Starlette(
            routes=[
                Route("/healthz", self._healthz),
                Route("/readyz", self._readyz),
                Route("/metrics", self._metrics),
                Route("/v1/models", self._models),
                Route("/openapi.json", self._openapi),
                Route("/v1/admin/sync", self._sync, methods=["POST"]),
            ]
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point."""
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(receive, send)
            return
        path: str = scope.get("path", "")
        if kind == "http" and path.startswith(_PREFIX) and path.endswith(_SUFFIX):
            await self._predict(scope, receive, send, path[len(_PREFIX) : -len(_SUFFIX)])
            return
        await self._admin(scope, receive, send)

    # ------------------------------------------------------------------ lifecycle

    async def startup(self) -> None:
        """Start the batcher, load the deployments, register and start polling."""
        cfg = self.config
        self.batcher = MicroBatcher(
            max_batch_rows=cfg.max_batch_rows, max_wait_s=cfg.max_wait_s, max_queue=cfg.max_queue
        )
        self.batcher.start()
        batcher = self.batcher
        self.metrics.gauges["flywheel_queue_depth"] = lambda: batcher.queued
        self.metrics.gauges["flywheel_rejected_total"] = lambda: batcher.rejected
        self.metrics.gauges["flywheel_batches_total"] = lambda: batcher.batches
        if self.predlog is not None:
            log = self.predlog
            self.metrics.gauges["flywheel_log_dropped_rows_total"] = lambda: log.dropped_rows
            self.metrics.gauges["flywheel_log_buffered_rows"] = lambda: log.buffered_rows
        await self.live.reload(force=True)
        if self.public_url is not None:
            from flywheel_ml.core.clock import utc_now

            record = await asyncio.to_thread(
                self.stage.store.add_gateway, self.public_url, at=utc_now()
            )
            self._gateway_id = record.id
        self._poller = asyncio.get_running_loop().create_task(self._poll())

    async def shutdown(self) -> None:
        """Stop polling, unregister, stop the batcher and flush the log."""
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
        if self._gateway_id is not None:
            await asyncio.to_thread(self.stage.store.remove_gateway, self._gateway_id)
        if self.batcher is not None:
            await self.batcher.drain()
            await self.batcher.stop()
        if self.predlog is not None:
            await asyncio.to_thread(self.predlog.close)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:  # reported to uvicorn, which exits
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.config.poll_interval_s)
            try:
                await self.live.reload()
            except Exception:  # keep serving the last good state
                _log.exception("reloading the deployment state failed")

    # ------------------------------------------------------------------ prediction

    async def _predict(self, scope: Scope, receive: Receive, send: Send, model: str) -> None:
        started = time.perf_counter()
        arrived = time.time()
        batcher = self.batcher
        assert batcher is not None
        batcher.arriving += 1
        counted = True
        snap = self.live.enter()
        version = ""
        try:
            live = snap.models.get(model)
            if live is None:
                raise _missing(model, snap)
            if live.text_input:
                raise _text_model(model, live)
            body = await _read_body(scope, receive, self.config.max_body_bytes)
            parsed = parse_body(
                body, _header(scope, b"content-type"), live.features, max_rows=self.config.max_rows
            )
            key = parsed.key or _header(scope, b"x-flywheel-key") or None
            where = route(live.state, key, rand=random.random())
            version = where.primary_ref
            batcher.arriving -= 1
            counted = False
            future = batcher.submit(
                live.predictors[version], parsed.X, want_proba=parsed.want_proba
            )
            preds, proba = await future
            request_id = new_id()
            payload = {
                "model_version": version,
                "predictions": preds,
                "probabilities": proba,
                "request_id": request_id,
            }
            await _send(send, 200, _dumps(payload), version=version)
            latency_ms = (time.perf_counter() - started) * 1000
            self.metrics.observe(model, version, 200, len(preds), latency_ms)
            if self.predlog is not None:
                entry = LogEntry(
                    at=arrived,
                    request_id=request_id,
                    model=model,
                    version=version,
                    key=key,
                    latency_ms=latency_ms,
                    inputs=parsed.X,
                    predictions=preds,
                    probabilities=proba,
                    shadow_version=where.shadow_ref,
                    baseline_version=where.baseline_ref,
                )
                self._log(entry, live.predictors)
        except OverloadedError:
            await _send_error(
                send,
                503,
                {
                    "error": "overloaded",
                    "message": f"{batcher.queued} requests are waiting already",
                    "hint": f"retry after {self.config.retry_after_s} s",
                },
                retry_after=self.config.retry_after_s,
            )
            self.metrics.observe(model, version, 503, 0, 0.0)
        except FlywheelError as exc:
            await _send_error(send, exc.http_status, exc.to_dict())
            self.metrics.observe(model, version, exc.http_status, 0, 0.0)
        except Exception as exc:  # a model failure is a 500 with a reason
            _log.exception("prediction failed")
            failure = {"error": "prediction_failed", "message": repr(exc)[:300], "hint": ""}
            await _send_error(send, 500, failure)
            self.metrics.observe(model, version, 500, 0, 0.0)
        finally:
            if counted:
                batcher.arriving -= 1
            self.live.leave(snap)

    def _log(self, entry: LogEntry, predictors: Any) -> None:
        """Append ``entry`` once the shadow and canary-baseline answers (if any) are in."""
        assert self.predlog is not None and self.batcher is not None
        log = self.predlog
        todo = [r for r in (entry.shadow_version, entry.baseline_version) if r is not None]
        if not todo:
            log.append(entry)
            return
        answers: dict[str, Any] = {}

        def done(ref: str) -> Callable[[Answer | None], None]:
            def take(answer: Answer | None) -> None:
                answers[ref] = None if answer is None else answer[0]
                if len(answers) == len(todo):
                    log.append(
                        LogEntry(
                            **{
                                **{f: getattr(entry, f) for f in LogEntry.__dataclass_fields__},
                                "shadow_predictions": answers.get(entry.shadow_version or ""),
                                "baseline_predictions": answers.get(entry.baseline_version or ""),
                            }
                        )
                    )

            return take

        for ref in todo:
            self.batcher.submit_background(predictors[ref], entry.inputs, done(ref))

    # ------------------------------------------------------------------ admin routes

    async def _healthz(self, request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def _readyz(self, request: Request) -> Response:
        snap = self.live.snapshot
        ready = snap.seq >= 0
        body = {
            "ready": ready,
            "seq": snap.seq,
            "models": sorted(snap.models),
            "broken": {m: e.message for m, e in snap.broken.items()},
        }
        return JSONResponse(body, status_code=200 if ready else 503)

    async def _metrics(self, request: Request) -> Response:
        return PlainTextResponse(
            self.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8"
        )

    async def _models(self, request: Request) -> Response:
        snap = self.live.snapshot
        return JSONResponse(
            {
                name: {
                    "champion": m.state.champion,
                    "canary": m.state.canary,
                    "canary_percent": m.state.canary_percent,
                    "shadow": m.state.shadow,
                    "features": list(m.features),
                    "input": "text" if m.text_input else "numeric",
                }
                for name, m in snap.models.items()
            }
        )

    async def _openapi(self, request: Request) -> Response:
        return JSONResponse(gateway_openapi())

    async def _sync(self, request: Request) -> Response:
        try:
            wanted = int(orjson.loads(await request.body()).get("seq", 0))
        except (orjson.JSONDecodeError, AttributeError, TypeError, ValueError):
            return JSONResponse({"error": "invalid_input", "message": 'send {"seq": N}'}, 422)
        try:
            seq = await self.live.reload()
            if seq < wanted:
                seq = await self.live.reload(force=True)
        except Exception as exc:  # the caller reports it unconfirmed
            return JSONResponse({"error": "store_unavailable", "message": str(exc)[:300]}, 503)
        return JSONResponse({"seq": seq, "confirmed": seq >= wanted})


def _text_model(model: str, live: LiveModel) -> FlywheelError:
    from flywheel_ml.errors import InvalidInputError

    column = f" ({', '.join(live.features)})" if live.features else ""
    return InvalidInputError(
        f"model {model!r} ({live.state.champion}) reads raw text{column}; this gateway answers "
        "numeric features only",
        hint=f"predict in process: ws.registry.load_model({live.state.champion!r}).predict(texts)",
    )


def _missing(model: str, snap: Snapshot) -> FlywheelError:
    from flywheel_ml.errors import NotFoundError, StoreUnavailableError

    broken = snap.broken.get(model)
    if broken is not None:
        return StoreUnavailableError(
            f"model {model!r} is deployed but cannot be loaded: {broken.message}",
            hint=broken.hint,
        )
    return NotFoundError(
        f"model {model!r} is not deployed on this gateway",
        hint=f"deploy it: flywheel serve deploy {model}@<version>; see GET /v1/models",
    )


def _default(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(type(value).__name__)


def _dumps(payload: dict[str, Any]) -> bytes:
    return orjson.dumps(payload, default=_default, option=orjson.OPT_SERIALIZE_NUMPY)


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return ""


async def _read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    declared = _header(scope, b"content-length")
    if declared.isdigit() and int(declared) > limit:
        raise BodyError(
            f"the body is {int(declared)} bytes, more than the limit of {limit}",
            hint="split the request, or send Parquet for large batches",
            status=413,
        )
    chunks = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyError(
                f"the body is more than the limit of {limit} bytes",
                hint="split the request",
                status=413,
            )
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def _send(send: Send, status: int, body: bytes, *, version: str) -> None:
    headers = [
        *_JSON_HEADERS,
        (b"content-length", str(len(body)).encode()),
        (b"x-flywheel-model-version", version.encode()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _send_error(
    send: Send, status: int, doc: dict[str, str], *, retry_after: int | None = None
) -> None:
    body = orjson.dumps(doc)
    headers = [*_JSON_HEADERS, (b"content-length", str(len(body)).encode())]
    if retry_after is not None:
        headers.append((b"retry-after", str(retry_after).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
