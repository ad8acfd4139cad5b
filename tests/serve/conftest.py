"""Fixtures of the serve tests: digits models, a resolver over them, a gateway on real uvicorn."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest

from flywheel_ml.errors import NotFoundError
from flywheel_ml.serve.predictors import EstimatorPredictor, Predictor


@pytest.fixture(scope="session")
def digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits: X (1797 x 64) and y."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return X.astype(np.float64), y


@pytest.fixture(scope="session")
def models(digits: tuple[np.ndarray, np.ndarray]) -> dict[str, Any]:
    """Three fitted LogisticRegressions by reference; v2 and v3 disagree with v1 on some rows."""
    from sklearn.linear_model import LogisticRegression

    X, y = digits
    fit = {"solver": "newton-cholesky"}  # converges in a few steps: quick fixtures
    return {
        "digits@v1": LogisticRegression(**fit).fit(X, y),
        "digits@v2": LogisticRegression(C=1e-4, **fit).fit(X, y),
        "digits@v3": LogisticRegression(C=1e-3, **fit).fit(X[:600], y[:600]),
    }


class SlowPredictor(EstimatorPredictor):
    """An estimator that takes at least ``delay_s`` per call (to make queues build up)."""

    def __init__(self, estimator: Any, *, version_ref: str, delay_s: float) -> None:
        super().__init__(estimator, version_ref=version_ref)
        self.delay_s = delay_s

    def predict(self, X: np.ndarray) -> np.ndarray:
        time.sleep(self.delay_s)
        return super().predict(X)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        time.sleep(self.delay_s)
        return super().predict_proba(X)


class DictResolver:
    """A :class:`flywheel_ml.serve.ModelResolver` over fitted estimators, counting loads."""

    def __init__(self, estimators: dict[str, Any], *, delay_s: float = 0.0) -> None:
        self.estimators = estimators
        self.delay_s = delay_s
        self.loads: list[str] = []

    def resolve(self, ref: str) -> Predictor:
        if ref not in self.estimators:
            raise NotFoundError(f"no model version {ref}", hint="register it first")
        self.loads.append(ref)
        if self.delay_s:
            return SlowPredictor(self.estimators[ref], version_ref=ref, delay_s=self.delay_s)
        return EstimatorPredictor(self.estimators[ref], version_ref=ref)


def free_port() -> int:
    """A TCP port that was free a moment ago on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_gateway(ws: Any, **config: Any) -> Iterator[Any]:
    """A gateway for ``ws`` on real uvicorn in a thread; yields it with ``.port`` set."""
    from flywheel_ml.server.gateway import GatewayConfig
    from flywheel_ml.server.run import build_gateway, uvicorn_server

    port = free_port()
    gateway = build_gateway(ws, host="127.0.0.1", port=port, config=GatewayConfig(**config))
    server = uvicorn_server(gateway, host="127.0.0.1", port=port)
    thread = threading.Thread(target=server.run, name="test-gateway", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the gateway did not start")
        time.sleep(0.01)
    gateway.port = port
    try:
        yield gateway
    finally:
        server.should_exit = True
        thread.join(timeout=30)


class Client:
    """A keep-alive HTTP client of one gateway (one connection; not thread-safe)."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        self.conn.request(method, path, body=body, headers=headers or {})
        response = self.conn.getresponse()
        data = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data

    def predict(
        self, doc: Any, *, model: str = "digits", headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
        status, _, data = self.request("POST", f"/v1/models/{model}/predict", body, headers)
        return status, json.loads(data)

    def close(self) -> None:
        self.conn.close()


@pytest.fixture
def client_factory() -> Iterator[Callable[[int], Client]]:
    """Makes clients and closes them after the test."""
    made: list[Client] = []

    def make(port: int) -> Client:
        client = Client(port)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()
