"""``flywheel serve`` through the real command line."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import flywheel_ml as fw
from flywheel_ml.serve.predlog import LogEntry, PredictionLog
from tests.conftest import FLYWHEEL
from tests.serve.conftest import DictResolver, free_port


@pytest.fixture
def deployed(tmp_path: Path, models: dict[str, Any]) -> Path:
    """A workspace where digits@v1 is champion and digits@v2 a 20% canary, with a logged row."""
    root = tmp_path / "ws"
    with fw.init_workspace(root, name="cli") as ws:
        ws.serve.resolver = DictResolver(models)
        ws.serve.deploy("digits@v1", reason="first")
        ws.serve.canary("digits@v2", percent=20)
        log = PredictionLog(ws.serve.log_dir, flush_interval_s=0.01)
        log.append(
            LogEntry(
                at=time.time(),
                request_id="r1",
                model="digits",
                version="digits@v1",
                key="u1",
                latency_ms=0.4,
                inputs=np.zeros((1, 64)),
                predictions=np.array([3]),
            )
        )
        log.close()
    return root


def as_json(done: subprocess.CompletedProcess[str]) -> Any:
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_status_history_log_and_rollback(cli: Any, deployed: Path) -> None:
    status = as_json(cli("serve", "status", "--json", cwd=deployed))
    assert status["deployment"]["champion"] == "digits@v1"
    assert status["traffic"] == {"digits@v1": 80.0, "digits@v2": 20.0}
    assert status["disagreements"][0]["role"] == "canary"
    text = cli("serve", "status", cwd=deployed).stdout
    assert "canary digits@v2 at 20%" in text
    history = as_json(cli("serve", "history", "--json", cwd=deployed))
    assert [h["kind"] for h in history] == ["deploy", "canary"]
    assert history[0]["reason"] == "first" and history[0]["actor"] == "tester"
    log = as_json(cli("serve", "log", "--since", "1h", "--json", cwd=deployed))
    assert log["rows_total"] == 1 and log["rows"][0]["prediction"] == "3"
    assert "1 rows since" in cli("serve", "log", cwd=deployed).stdout
    moved = as_json(cli("serve", "rollback", "--reason", "bad", "--json", cwd=deployed))
    assert moved["kind"] == "rollback" and moved["deployment"]["canary"] is None
    assert moved["unconfirmed_gateways"] == []
    overview = as_json(cli("status", "--json", cwd=deployed))
    serve = next(s for s in overview["stages"] if s["stage"] == "serve")
    assert serve["done"] and "digits@v1 champion" in serve["deliverables"][0]["evidence"]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("serve", "deploy", "digits@v9"), "registry"),
        (("serve", "deploy", "not a ref"), "not a model reference"),
        (("serve", "canary", "digits@v3", "--percent", "150"), "between 0 and 100"),
        (("serve", "promote", "nope"), "not deployed"),
        (("serve", "log", "--since", "yesterday-ish"), "neither a duration nor a time"),
    ],
)
def test_user_errors_are_one_line_and_exit_2(
    cli: Any, deployed: Path, args: tuple[str, ...], words: str
) -> None:
    done = cli(*args, cwd=deployed)
    assert done.returncode == 2, done.stdout + done.stderr
    assert words in done.stderr
    assert "Traceback" not in done.stderr


def test_serve_start_runs_the_gateway_until_sigterm(deployed: Path) -> None:
    """With nothing registered no version loads: the gateway says so per model and stays up."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLYWHEEL_")}
    proc = subprocess.Popen(
        [FLYWHEEL, "serve", "start", "--port", str(port)],
        cwd=deployed,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/readyz")
                ready = json.loads(conn.getresponse().read())
                break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        assert "registry" in ready["broken"]["digits"]
        conn.request("POST", "/v1/models/digits/predict", body=b'{"rows": [[0]]}')
        response = conn.getresponse()
        doc = json.loads(response.read())
        assert response.status == 503 and "cannot be loaded" in doc["message"]
        with fw.open_workspace(deployed) as ws:
            assert [g.url for g in ws.serve.store.list_gateways()] == [f"http://127.0.0.1:{port}"]
        conn.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    assert proc.returncode == 0
    with fw.open_workspace(deployed) as ws:
        assert ws.serve.store.list_gateways() == []
