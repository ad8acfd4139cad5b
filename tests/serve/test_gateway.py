"""The gateway end to end: real uvicorn on 127.0.0.1, real LogisticRegressions on digits."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest

from tests.serve.conftest import Client, DictResolver, running_gateway


@pytest.fixture
def ws(sqlite_workspace: Any, models: dict[str, Any]) -> Any:
    """An embedded workspace whose serve stage loads the digits models."""
    sqlite_workspace.serve.resolver = DictResolver(models)
    return sqlite_workspace


def test_predictions_equal_model_predict_and_name_the_version(
    ws: Any, digits: Any, models: dict[str, Any], client_factory: Callable[[int], Client]
) -> None:
    X, _ = digits
    ws.serve.deploy("digits@v1")
    with running_gateway(ws) as gw:
        client = client_factory(gw.port)
        status, doc = client.predict({"rows": X[:100].tolist()})
        assert status == 200
        assert doc["model_version"] == "digits@v1"
        assert doc["predictions"] == models["digits@v1"].predict(X[:100]).tolist()
        np.testing.assert_allclose(
            doc["probabilities"], models["digits@v1"].predict_proba(X[:100]), rtol=1e-12
        )
        assert len(doc["request_id"]) == 32
        names = [f"x{i}" for i in range(64)]
        columns = dict(zip(names, X[:5].T.tolist(), strict=True))
        status, by_columns = client.predict({"columns": columns})
        assert status == 200 and by_columns["predictions"] == doc["predictions"][:5]
        for i in range(20):
            status, one = client.predict({"rows": X[i : i + 1].tolist()})
            assert one["model_version"] == "digits@v1"
            assert one["predictions"] == [int(models["digits@v1"].predict(X[i : i + 1])[0])]
        assert client.request("GET", "/healthz")[0] == 200
        status, _, body = client.request("GET", "/openapi.json")
        assert status == 200 and "/v1/models/{name}/predict" in json.loads(body)["paths"]
        status, _, body = client.request("GET", "/readyz")
        assert status == 200 and json.loads(body)["models"] == ["digits"]
        status, _, body = client.request("GET", "/metrics")
        text = body.decode()
        assert 'flywheel_requests_total{model="digits",version="digits@v1",status="200"} 22' in text
        assert "flywheel_request_latency_ms_bucket" in text
    frame = ws.serve.read_log()
    assert len(frame) == 100 + 5 + 20
    assert set(frame["version"]) == {"digits@v1"}


def test_malformed_requests_get_4xx_json_and_the_server_stays_up(
    ws: Any, digits: Any, client_factory: Callable[[int], Client]
) -> None:
    X, _ = digits
    ws.serve.deploy("digits@v1")
    with running_gateway(ws, max_body_bytes=100_000, max_rows=500) as gw:
        client = client_factory(gw.port)
        cases: list[tuple[bytes, int]] = [
            (b"{bad json", 400),
            (b'{"rows": [[1, 2, 3]]}', 422),
            (b'{"rows": [[NaN]]}', 400),
            (json.dumps({"rows": [[None] * 64]}).encode(), 422),
            (json.dumps({"rows": X[:600].tolist()}).encode(), 413),
            (b'{"rows": [' + b",".join([b"[" + b"1," * 63 + b"1]"] * 2000) + b"]}", 413),
        ]
        for body, expected in cases:
            status, _, data = client.request("POST", "/v1/models/digits/predict", body)
            assert status == expected, data
            doc = json.loads(data)
            assert doc["message"] and doc["error"]
        status, doc = client.predict({"rows": X[:1].tolist()}, model="nope")
        assert status == 404 and "not deployed" in doc["message"]
        status, doc = client.predict({"rows": X[:2].tolist()})
        assert status == 200


def test_concurrent_single_rows_are_micro_batched(
    sqlite_workspace: Any, digits: Any, models: dict[str, Any]
) -> None:
    X, _ = digits
    ws = sqlite_workspace
    ws.serve.resolver = DictResolver(models, delay_s=0.003)
    ws.serve.deploy("digits@v1")
    expected = models["digits@v1"].predict(X[:400]).tolist()
    with running_gateway(ws, max_batch_rows=32) as gw:

        def worker(offset: int) -> list[tuple[int, int]]:
            client = Client(gw.port)
            out = []
            for i in range(offset, 400, 8):
                status, doc = client.predict({"rows": X[i : i + 1].tolist()})
                assert status == 200 and doc["model_version"] == "digits@v1"
                out.append((i, doc["predictions"][0]))
            client.close()
            return out

        with ThreadPoolExecutor(8) as pool:
            answers = [a for part in pool.map(worker, range(8)) for a in part]
        batcher = gw.batcher
        assert batcher.batched_jobs == 400
        assert batcher.batches < 400
        assert batcher.largest_batch > 1
    assert sorted(answers) == list(enumerate(expected))


def test_open_loop_overload_gets_503_with_retry_after_and_no_crash(
    sqlite_workspace: Any, digits: Any, models: dict[str, Any]
) -> None:
    """Open-loop load at about 2x and 5x capacity (capacity ~50 rows/s: 2 rows per 40 ms)."""
    X, _ = digits
    ws = sqlite_workspace
    ws.serve.resolver = DictResolver(models, delay_s=0.04)
    ws.serve.deploy("digits@v1")
    body = json.dumps({"rows": X[:1].tolist()}).encode()
    with running_gateway(ws, max_batch_rows=2, max_queue=6) as gw:
        results: list[tuple[int, str | None, float]] = []
        lock = threading.Lock()

        def one() -> None:
            client = Client(gw.port)
            started = time.perf_counter()
            try:
                status, headers, data = client.request("POST", "/v1/models/digits/predict", body)
                if status == 503:
                    assert json.loads(data)["error"] == "overloaded"
                with lock:
                    results.append(
                        (status, headers.get("retry-after"), time.perf_counter() - started)
                    )
            finally:
                client.close()

        with ThreadPoolExecutor(48) as pool:
            for rate, seconds in ((100, 1.0), (250, 1.0)):
                start = time.perf_counter()
                for n in range(int(rate * seconds)):
                    delay = start + n / rate - time.perf_counter()
                    if delay > 0:
                        time.sleep(delay)
                    pool.submit(one)
        statuses = [r[0] for r in results]
        assert len(results) == 350
        assert set(statuses) <= {200, 503}
        assert statuses.count(503) > 0 and statuses.count(200) > 0
        assert all(r[1] == "1" for r in results if r[0] == 503)
        accepted = sorted(r[2] for r in results if r[0] == 200)
        p99 = accepted[int(0.99 * (len(accepted) - 1))]
        # Bounded by the queue (6 waiting, 2 per 40 ms batch): far below a client timeout.
        assert p99 < 5.0
        client = Client(gw.port)
        assert client.request("GET", "/healthz")[0] == 200
        assert client.predict({"rows": X[:1].tolist()})[0] == 200
        client.close()


@pytest.mark.parametrize("setup", ["canary", "champion"])
def test_rollback_under_load_never_answers_from_the_removed_version_afterwards(
    ws: Any, digits: Any, setup: str
) -> None:
    X, _ = digits
    ws.serve.deploy("digits@v1")
    if setup == "canary":
        ws.serve.canary("digits@v2", percent=50)
    else:
        ws.serve.deploy("digits@v2")
    body = json.dumps({"rows": X[:1].tolist()}).encode()
    with running_gateway(ws) as gw:
        stop = threading.Event()
        seen: list[tuple[float, str]] = []
        lock = threading.Lock()

        def worker() -> None:
            client = Client(gw.port)
            while not stop.is_set():
                sent = time.perf_counter()
                status, _, data = client.request("POST", "/v1/models/digits/predict", body)
                assert status == 200
                with lock:
                    seen.append((sent, json.loads(data)["model_version"]))
            client.close()

        threads = [threading.Thread(target=worker) for _ in range(4)]
        for t in threads:
            t.start()
        time.sleep(0.4)
        move = ws.serve.rollback("digits", reason="bad canary")
        returned = time.perf_counter()
        assert ws.serve.last_unconfirmed == []
        time.sleep(0.4)
        stop.set()
        for t in threads:
            t.join()
    assert "digits@v2" not in move.state.live_refs
    before = [v for sent, v in seen if sent < returned]
    after = [v for sent, v in seen if sent >= returned]
    assert "digits@v2" in before
    assert after and set(after) == {"digits@v1"}


def test_hot_reload_by_polling_without_a_sync_call(
    ws: Any, digits: Any, client_factory: Callable[[int], Client]
) -> None:
    X, _ = digits
    ws.serve.deploy("digits@v1")
    with running_gateway(ws, poll_interval_s=0.05) as gw:
        client = client_factory(gw.port)
        assert client.predict({"rows": X[:1].tolist()})[1]["model_version"] == "digits@v1"
        ws.serve._sync = None  # only the gateway's own polling can notice the move now
        ws.serve.deploy("digits@v3")
        deadline = time.monotonic() + 10
        version = ""
        while version != "digits@v3" and time.monotonic() < deadline:
            version = client.predict({"rows": X[:1].tolist()})[1]["model_version"]
            time.sleep(0.01)
        assert version == "digits@v3"


def test_shadow_and_canary_disagreement_is_logged_and_reported(
    ws: Any, digits: Any, models: dict[str, Any], client_factory: Callable[[int], Client]
) -> None:
    X, _ = digits
    ws.serve.deploy("digits@v1")
    ws.serve.canary("digits@v2", percent=30)
    ws.serve.shadow("digits@v3")
    with running_gateway(ws) as gw:
        client = client_factory(gw.port)
        for i in range(300):
            status, doc = client.predict(
                {"rows": X[i : i + 1].tolist()}, headers={"X-Flywheel-Key": f"u{i}"}
            )
            assert status == 200 and doc["model_version"] in {"digits@v1", "digits@v2"}
    frame = ws.serve.read_log()
    assert len(frame) == 300
    assert set(frame["shadow_version"]) == {"digits@v3"}
    on_canary = frame[frame["version"] == "digits@v2"]
    assert 30 < len(on_canary) < 150
    assert set(on_canary["baseline_version"]) == {"digits@v1"}
    features = np.stack(frame["features"].to_numpy())
    served = frame["prediction"].astype(int).to_numpy()
    for ref in ("digits@v1", "digits@v2"):
        mask = (frame["version"] == ref).to_numpy()
        np.testing.assert_array_equal(served[mask], models[ref].predict(features[mask]))
    shadowed = frame["shadow_prediction"].astype(int).to_numpy()
    np.testing.assert_array_equal(shadowed, models["digits@v3"].predict(features))
    status = ws.serve.status("digits")
    rates = {d.role: d for d in status.disagreements}
    assert rates["shadow"].rows == 300
    assert rates["shadow"].disagree_rate == pytest.approx(float(np.mean(served != shadowed)))
    baseline = on_canary["baseline_prediction"].astype(int).to_numpy()
    canary_served = on_canary["prediction"].astype(int).to_numpy()
    assert rates["canary"].rows == len(on_canary)
    assert rates["canary"].disagree_rate == pytest.approx(float(np.mean(baseline != canary_served)))
    assert status.traffic == {"digits@v1": 70.0, "digits@v2": 30.0}


def test_a_text_model_gets_a_422_that_says_the_gateway_takes_numbers(
    sqlite_workspace: Any, client_factory: Callable[[int], Client]
) -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    texts = ["great kettle", "awful kettle", "great pot", "awful pot"]
    model = make_pipeline(TfidfVectorizer(), LogisticRegression())
    model.fit(texts, ["pos", "neg", "pos", "neg"])
    sqlite_workspace.serve.resolver = DictResolver({"reviews@v1": model})
    sqlite_workspace.serve.deploy("reviews@v1")
    with running_gateway(sqlite_workspace) as gw:
        client = client_factory(gw.port)
        status, doc = client.predict({"rows": [["great kettle"]]}, model="reviews")
        assert status == 422
        assert "reads raw text" in doc["message"] and "numeric features only" in doc["message"]
        assert "load_model('reviews@v1')" in doc["hint"]
        status, _, body = client.request("GET", "/v1/models")
        assert json.loads(body)["reviews"]["input"] == "text"
    assert len(sqlite_workspace.serve.read_log()) == 0  # nothing answered, nothing logged
