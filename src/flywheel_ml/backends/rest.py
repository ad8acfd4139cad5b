"""The REST client backend: the store Protocols over a team server's ``/api/v1`` (httpx).

:class:`RestStores` gives a workspace the same stores as :class:`~flywheel_ml.backends.stores.
SqlStores`, so every stage verb, the CLI and the SDK run unchanged against a server
(``FLYWHEEL_URL`` and ``FLYWHEEL_TOKEN``, or ``flywheel login``). Each store method is one POST
to ``/api/v1/stores/{store}/{method}`` (``server/routes/stores.py``); bytes go through
``/api/v1/objects`` and are checked against their digest on the way in and out.

- **Retries**: a call that meets a connection error, a timeout or a 502/503/504 is sent again
  (five attempts, backing off). A write carries one ``Idempotency-Key`` for all its attempts,
  so a retried write (a batch of metric points, say) is done once even when the first attempt
  reached the server and only its answer was lost.
- **Metric logging** stays batched and off the training loop: the track stage's buffer flushes
  from its own thread, and that thread is the one waiting on HTTP.
- **Callbacks** (a function a store runs inside its transaction) are optimistic here: the
  client computes the result from the state the server last reported and the server applies it
  only when that state is still current, else answers with the new state to compute from.
- Errors come back as the same :class:`~flywheel_ml.errors.FlywheelError` classes, with the
  server's message and hint.
"""

from __future__ import annotations

import inspect
import os
import random
import struct
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path
from typing import IO, Any, BinaryIO

import httpx
import orjson

from flywheel_ml import errors
from flywheel_ml.backends import wire
from flywheel_ml.backends.stores import CALLBACK_PARAMETERS, STORE_PROTOCOLS, store_protocol
from flywheel_ml.config import Settings
from flywheel_ml.core.access import Role
from flywheel_ml.core.digests import Digest, digest_bytes, digest_file, parse_digest
from flywheel_ml.core.policy import STORE_ROLES
from flywheel_ml.errors import (
    FlywheelError,
    IntegrityError,
    InvalidInputError,
    StoreUnavailableError,
)

ATTEMPTS = 5
"""How many times a call is sent before its failure is raised."""
_RETRY_STATUSES = frozenset({502, 503, 504})
_BATCH_BYTES = 32 * 1024 * 1024
_CALLBACK_ROUNDS = 20
# Store methods a scientist may call that only read: they carry no Idempotency-Key.
_READS_NEEDING_SCIENTIST = frozenset(
    {
        ("label", "get_queue"),
        ("label", "list_queues"),
        ("label", "list_tasks"),
        ("monitor", "get_labels"),
    }
)


class RestClient:
    """One connection pool to a team server, authenticated with a bearer token.

    Args:
        url: the server's base URL (``http://host:port``).
        token: an API token (``flywheel server token create``).
        timeout_s: how long one attempt may wait for an answer.
        transport: an httpx transport (tests inject faults with it).
    """

    def __init__(
        self,
        url: str,
        token: str,
        *,
        timeout_s: float = 60.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise InvalidInputError(
                f"server URL {url!r} is not http(s)", hint="give it as http://host:port"
            )
        self.url = url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {token}", "User-Agent": "flywheel-ml"},
            timeout=httpx.Timeout(timeout_s, connect=10.0),
            transport=transport,
        )

    def call(self, store: str, method: str, args: dict[str, Any]) -> Any:
        """Call ``store.method(**args)`` on the server and return its result."""
        write = _is_write(store, method)
        body = wire.dumps({"args": args})
        key = uuid.uuid4().hex if write else None
        response = self.send("POST", f"/api/v1/stores/{store}/{method}", content=body, key=key)
        return wire.loads(response.content)["result"]

    def send(
        self,
        verb: str,
        path: str,
        *,
        content: bytes | Callable[[], Iterator[bytes]] | None = None,
        key: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """One request, retried on transient failures; raises the server's error as raised.

        ``content`` may be a function giving a fresh iterator of chunks per attempt (uploads).
        """
        sent = dict(headers or {})
        if key is not None:
            sent["Idempotency-Key"] = key
        for attempt in range(ATTEMPTS):
            body = content() if callable(content) else content
            try:
                response = self._http.request(verb, path, content=body, headers=sent)
            except httpx.TransportError as exc:
                if attempt == ATTEMPTS - 1:
                    raise StoreUnavailableError(
                        f"cannot reach the Flywheel server at {self.url}: {exc}",
                        hint="check FLYWHEEL_URL (or `flywheel login`) and that the server runs",
                    ) from exc
            else:
                if response.status_code < 400:
                    return response
                if response.status_code not in _RETRY_STATUSES or attempt == ATTEMPTS - 1:
                    raise _error_of(response)
            time.sleep(min(2.0, 0.05 * 2**attempt) * random.uniform(0.5, 1.0))
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()


def _is_write(store: str, method: str) -> bool:
    role = STORE_ROLES[store][method]
    return role >= Role.SCIENTIST and (store, method) not in _READS_NEEDING_SCIENTIST


@cache
def _error_classes() -> dict[str, type[FlywheelError]]:
    from flywheel_ml.core import access  # registers the authentication errors

    del access
    found: dict[str, type[FlywheelError]] = {}
    pending: list[type[FlywheelError]] = [FlywheelError]
    while pending:  # breadth first: a code's most general class wins
        cls = pending.pop(0)
        found.setdefault(cls.code, cls)
        pending.extend(cls.__subclasses__())
    return found


class StaleStateError(errors.ConflictError):
    """The server's state changed under an optimistic write; ``current`` is the new state."""

    code = "stale"

    def __init__(self, message: str, *, hint: str = "", current: Any = None) -> None:
        super().__init__(message, hint=hint)
        self.current = current


def _error_of(response: httpx.Response) -> FlywheelError:
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        body = None
    if not isinstance(body, dict) or "message" not in body:
        return StoreUnavailableError(
            f"the Flywheel server answered {response.status_code} to {response.request.url.path}",
            hint="see the server's log",
        )
    code, message, hint = (
        str(body.get("error", "")),
        str(body["message"]),
        str(body.get("hint", "")),
    )
    if code == "stale":
        return StaleStateError(message, hint=hint, current=wire.decode(body.get("current")))
    cls = _error_classes().get(code)
    if cls is None:
        error = FlywheelError(message, hint=hint)
        error.http_status = response.status_code
        return error
    error = cls.__new__(cls)
    FlywheelError.__init__(error, message, hint=hint)
    return error


class _StoreProxy:
    """One store over REST: its Protocol's methods, each a call to the server."""

    def __init__(self, client: RestClient, name: str) -> None:
        self._client = client
        self._name = name
        self._protocol = store_protocol(name)

    def __getattr__(self, method: str) -> Callable[..., Any]:
        if method.startswith("_") or method not in STORE_ROLES[self._name]:
            raise AttributeError(f"the {self._name} store has no method {method!r} over REST")
        signature = inspect.signature(getattr(self._protocol, method))
        callback = CALLBACK_PARAMETERS.get((self._name, method))

        def call(*args: Any, **kwargs: Any) -> Any:
            bound = signature.bind(self, *args, **kwargs)
            named = {k: v for k, v in bound.arguments.items() if k != "self"}
            if callback is None:
                return self._client.call(self._name, method, named)
            return self._call_with_callback(method, named, callback)

        call.__name__ = method
        setattr(self, method, call)  # later calls skip __getattr__
        return call

    def _call_with_callback(self, method: str, args: dict[str, Any], param: str) -> Any:
        change: Callable[[Any], Any] = args[param]
        cases: list[tuple[Any, Any]] = []  # (state, change(state)) for each state the server saw
        for _ in range(_CALLBACK_ROUNDS):
            try:
                return self._client.call(self._name, method, {**args, param: {"cases": cases}})
            except StaleStateError as stale:
                cases.append((stale.current, change(stale.current)))
        raise errors.ConflictError(
            f"{self._name}.{method} kept changing under {_CALLBACK_ROUNDS} attempts",
            hint="try again when other writers are done",
        )

    def __repr__(self) -> str:
        return f"<{self._name} store at {self._client.url}>"


class RestObjectStore:
    """Bytes by digest on the server, checked against the digest both ways (``DataObjects``)."""

    def __init__(self, client: RestClient) -> None:
        self._client = client

    def put_bytes(self, data: bytes) -> Digest:
        """Upload ``data`` (the server stores it once) and return its digest."""
        digest = digest_bytes(data)
        self._client.send("PUT", f"/api/v1/objects/{digest}", content=bytes(data))
        return digest

    def put_file(self, path: str | os.PathLike[str], *, link: bool = False) -> Digest:
        """Upload a file's bytes unless the server has them (``link`` has no meaning here)."""
        digest = digest_file(path)
        if self.exists(digest):
            return digest

        def chunks() -> Iterator[bytes]:
            with open(path, "rb") as source:
                while block := source.read(1 << 20):
                    yield block

        self._client.send("PUT", f"/api/v1/objects/{digest}", content=chunks)
        return digest

    def put_many(
        self, blobs: Sequence[bytes], *, digests: Sequence[Digest] | None = None
    ) -> list[Digest]:
        """Upload many small objects in few requests; returns their digests in order.

        The server hashes what it receives and the answer is compared with ``digests``.
        """
        digests = [digest_bytes(b) for b in blobs] if digests is None else list(digests)
        start = 0
        while start < len(blobs):
            size, end = 0, start
            while end < len(blobs) and (end == start or size + len(blobs[end]) < _BATCH_BYTES):
                size += len(blobs[end]) + 8
                end += 1
            body = b"".join(struct.pack("<Q", len(b)) + bytes(b) for b in blobs[start:end])
            # Storing by content is idempotent: a retried batch needs no key.
            answer = self._client.send("POST", "/api/v1/objects/batch", content=body)
            if orjson.loads(answer.content)["digests"] != digests[start:end]:
                raise IntegrityError(
                    "the server stored a batch under other digests than sent",
                    hint="check the server's object store with `flywheel verify`",
                )
            start = end
        return digests

    def get_bytes(self, digest: Digest) -> bytes:
        """The object's bytes, checked against ``digest``."""
        digest = parse_digest(digest)
        data = self._client.send("GET", f"/api/v1/objects/{digest}").content
        if digest_bytes(data) != digest:
            raise IntegrityError(
                f"object {digest} came back with other bytes",
                hint="run `flywheel verify` on the server host",
            )
        return data

    def open(self, digest: Digest) -> BinaryIO:
        """A reader of the object's (checked) bytes, spooled to disk when large."""
        spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=64 << 20)  # noqa: SIM115
        spool.write(self.get_bytes(digest))
        spool.seek(0)
        return spool  # type: ignore[return-value]

    def exists(self, digest: Digest) -> bool:
        """Whether the server stores the object."""
        answer = self._client.send(
            "POST", "/api/v1/objects/missing", content=orjson.dumps([parse_digest(digest)])
        )
        return not orjson.loads(answer.content)["missing"]

    def iter_digests(self) -> Iterator[Digest]:
        """Not offered over REST: listing every object is the server host's work."""
        raise InvalidInputError(
            "listing every object runs on the server host", hint="run it on the server host"
        )

    def export_many(self, targets: Sequence[tuple[Digest, str | os.PathLike[str]]]) -> None:
        """Download each object to a new file at its target (exclusive create)."""
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)

        def one(target: tuple[Digest, str | os.PathLike[str]]) -> None:
            data = self.get_bytes(target[0])
            fd = os.open(target[1], flags, 0o644)
            with os.fdopen(fd, "wb") as out:
                out.write(data)

        with ThreadPoolExecutor(4) as pool:
            for _ in pool.map(one, targets):
                pass


def connect(url: str, *, token: str) -> tuple[Settings, RestStores]:
    """The settings and stores of a client of the team server at ``url`` (token checked).

    Raises:
        StoreUnavailableError: the server cannot be reached.
        AuthenticationError: the token is unknown, expired or revoked.
    """
    client = RestClient(url, token)
    try:
        who = orjson.loads(client.send("GET", "/api/v1/whoami").content)
    except BaseException:
        client.close()
        raise
    host = client.url.split("://", 1)[-1].replace(":", "_").replace("/", "_")
    cache = os.environ.get("XDG_CACHE_HOME", "").strip() or str(Path.home() / ".cache")
    settings = Settings(
        root=Path.cwd(),
        name=str(who.get("workspace") or client.url),
        db_url=client.url,
        blob_url=client.url,
        state_path=Path(cache) / "flywheel" / host,
    )
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    return settings, RestStores(client)


class RestStores:
    """The stores of a workspace that is a client of a team server."""

    def __init__(self, client: RestClient) -> None:
        self.client = client
        self.objects = RestObjectStore(client)
        self.data_objects = self.objects
        self._stores: dict[str, _StoreProxy] = {}

    def store(self, name: str) -> Any:
        """The store named ``name`` over REST.

        Raises:
            KeyError: no store has that name.
        """
        if name not in STORE_PROTOCOLS:
            raise KeyError(name)
        found = self._stores.get(name)
        if found is None:
            found = self._stores[name] = _StoreProxy(self.client, name)
        return found

    def close(self) -> None:
        """Close the connection pool."""
        self.client.close()

    def __repr__(self) -> str:
        return f"RestStores({self.client.url!r})"
