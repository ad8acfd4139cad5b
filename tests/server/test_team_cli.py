"""``flywheel server``: users, tokens and migrate through the real CLI, and the real
``flywheel server start`` on 127.0.0.1 used with a created token."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import FLYWHEEL

Cli = Callable[..., subprocess.CompletedProcess[str]]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(port: int, path: str, token: str | None = None) -> tuple[int, dict[str, str], bytes]:
    # http.client sends the path as given (no normalising of '..'), like an attacker would.
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        conn.request("GET", path, headers=headers)
        answer = conn.getresponse()
        return answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read()
    finally:
        conn.close()


def _json(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_users_tokens_and_migrate_through_the_cli(cli: Cli, tmp_path: Path) -> None:
    assert cli("init", "--name", "Team", cwd=tmp_path).returncode == 0
    migrated = _json(cli("--json", "server", "migrate", cwd=tmp_path))
    assert migrated["revision"] == migrated["head"] == migrated["from"]
    assert _json(cli("--json", "server", "user", "list", cwd=tmp_path)) == []
    added = _json(cli("--json", "server", "user", "add", "ann", "--role", "lead", cwd=tmp_path))
    assert (added["name"], added["role"]) == ("ann", "lead")
    again = cli("server", "user", "add", "ann", "--role", "viewer", cwd=tmp_path)
    assert again.returncode == 2 and "exists already" in again.stderr
    bad = cli("server", "user", "add", "bob", "--role", "root", cwd=tmp_path)
    assert bad.returncode == 2 and "unknown role" in bad.stderr
    missing = cli("server", "token", "create", "nobody", cwd=tmp_path)
    assert missing.returncode == 2 and "no user" in missing.stderr
    shown = cli("server", "token", "create", "ann", "--expires", "7d", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    token = shown.stdout.strip().splitlines()[-1]
    assert token.startswith("fwt_")
    listed = _json(cli("--json", "server", "token", "list", cwd=tmp_path))
    assert len(listed) == 1 and "token" not in listed[0]
    db = (tmp_path / ".flywheel" / "flywheel.db").read_bytes()
    assert token.encode() not in db and token.rsplit("_", 1)[1].encode() not in db
    users = _json(cli("--json", "server", "user", "list", cwd=tmp_path))
    assert users[0]["live_tokens"] == 1
    revoked = _json(cli("--json", "server", "token", "revoke", listed[0]["id"], cwd=tmp_path))
    assert revoked["revoked_at"] is not None
    assert _json(cli("--json", "server", "user", "list", cwd=tmp_path))[0]["live_tokens"] == 0


def test_server_start_requires_a_token_and_logs_json(cli: Cli, tmp_path: Path) -> None:
    assert cli("init", "--name", "Team", cwd=tmp_path).returncode == 0
    assert cli("server", "user", "add", "vera", "--role", "viewer", cwd=tmp_path).returncode == 0
    token = _json(cli("--json", "server", "token", "create", "vera", cwd=tmp_path))["token"]
    port = _free_port()
    log = tmp_path / "server.log"
    with log.open("w") as stderr:
        server = subprocess.Popen(
            [FLYWHEEL, "server", "start", "--port", str(port)],
            cwd=tmp_path,
            env={**os.environ},
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if _get(port, "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            assert server.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the team server did not start"
            time.sleep(0.2)
        assert _get(port, "/readyz")[0] == 200
        status, headers, body = _get(port, "/api/v1/dashboard")
        assert status == 401 and headers["www-authenticate"].startswith("Bearer")
        assert json.loads(body)["error"] == "unauthenticated"
        assert _get(port, "/", "fwt_nonsense")[0] == 401
        status, _headers, body = _get(port, "/api/v1/dashboard", token)
        assert status == 200 and json.loads(body)["name"] == "Team"
        assert _get(port, "/api/v1/plan", token)[0] == 200
        assert _get(port, "/ui/track/runs/x/artifacts/..%2f..%2f..%2fetc%2fpasswd", token)[0] == 403
        status, _h, body = _get(port, "/api/v1/data/documents/..%2f..%2fflywheel.toml", token)
        assert status == 404 and b"[store]" not in body
        metrics = _get(port, "/metrics", token)[2].decode()
        assert 'route="/api/v1/dashboard",status="401"' in metrics
        listed = _json(cli("--json", "server", "token", "list", cwd=tmp_path))
        cli("server", "token", "revoke", listed[0]["id"], cwd=tmp_path)
        assert _get(port, "/api/v1/dashboard", token)[0] == 401
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    lines = log.read_text().splitlines()
    entries = [json.loads(line) for line in lines if line.startswith("{")]
    assert any(e["status"] == 200 and e["user"] == "vera" for e in entries)
    assert any(e["status"] == 401 and e["route"] == "/api/v1/dashboard" for e in entries)
    assert token not in log.read_text()
