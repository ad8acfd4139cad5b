"""``flywheel ui`` through the real console script: binds 127.0.0.1, serves, is read-only."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.conftest import FLYWHEEL


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_flywheel_ui_serves_read_only_on_loopback(tmp_path: Path, cli: Any) -> None:
    assert cli("init", "proj", cwd=tmp_path).returncode == 0
    port = _free_port()
    process = subprocess.Popen(
        [FLYWHEEL, "ui", "--port", str(port)],
        cwd=tmp_path / "proj",
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=2) as answer:
                    assert json.loads(answer.read())["ok"] is True
                break
            except OSError:
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                assert time.monotonic() < deadline, "flywheel ui did not start"
                time.sleep(0.1)
        with urllib.request.urlopen(base + "/", timeout=10) as answer:
            assert "read-only" in answer.read().decode()
        request = urllib.request.Request(
            base + "/api/v1/serve/m/rollback", data=b"{}", method="POST",
            headers={"content-type": "application/json"},
        )  # fmt: skip
        try:
            urllib.request.urlopen(request, timeout=10)
            raise AssertionError("a write was accepted by a read-only UI")
        except urllib.error.HTTPError as refused:
            assert refused.code == 403
        # Only the loopback address listens (the default --host).
        connections = subprocess.run(
            ["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True, check=False
        ).stdout
        if connections.strip():
            local = [line.split()[3] for line in connections.splitlines()]
            assert local == [f"127.0.0.1:{port}"]
    finally:
        process.terminate()
        process.wait(timeout=30)
    err = process.stderr.read().decode() if process.stderr else ""
    assert f"http://127.0.0.1:{port}/ (read-only" in err


def test_ui_is_listed_in_help(tmp_path: Path, cli: Any) -> None:
    result = cli("ui", "--help", cwd=tmp_path)
    assert result.returncode == 0
    assert "--write" in result.stdout and "--port" in result.stdout
