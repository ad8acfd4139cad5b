"""The team server on real uvicorn on 127.0.0.1 (a thread of the test process), for the tests
that talk to it over HTTP: the annotator scoping, schemathesis and the REST client."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flywheel_ml.core.access import ROLE_NAMES
from tests.ui_fixtures import UiProject, seed_ui_project


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def live_server(app: Any) -> Iterator[str]:
    """Serve the ASGI ``app`` on 127.0.0.1 until the block ends; yields the base URL."""
    import uvicorn

    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, access_log=False, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="test-team-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the team server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def seed_team_project(root: Path) -> UiProject:
    """The seeded UI project (``tests/ui_fixtures.py``) with its writes recorded as ``tester``
    (a module fixture cannot use monkeypatch)."""
    saved = os.environ.get("FLYWHEEL_USER")
    os.environ["FLYWHEEL_USER"] = "tester"
    try:
        return seed_ui_project(root)
    finally:
        if saved is None:
            os.environ.pop("FLYWHEEL_USER", None)
        else:
            os.environ["FLYWHEEL_USER"] = saved


def role_tokens(ws: Any) -> dict[str, str]:
    """A user ``<role>-user`` of every role with a one-day token; role name -> token."""
    tokens: dict[str, str] = {}
    for role in ROLE_NAMES:
        ws.access.add_user(f"{role}-user", role=role, actor="root")
        tokens[role] = ws.access.create_token(f"{role}-user", expires="1d").token
    return tokens
