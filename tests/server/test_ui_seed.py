"""The shared UI fixtures work: the seeded project and a real server on 127.0.0.1."""

from __future__ import annotations

import json
import urllib.request
from typing import Any


def test_seeded_project_has_what_pages_show(ui_project: Any) -> None:
    ws = ui_project.ws
    names = {r.name for r in ws.track.list_runs()}
    assert {"logreg-good", "logreg-weak", "long-curve"} <= names
    assert ws.registry.aliases(ui_project.model) == {"champion": 1}
    state = ws.serve.get(ui_project.model)
    assert (state.champion, state.canary) == (ui_project.champion, ui_project.canary)
    assert len(ws.serve.read_log(model=ui_project.model)) == 60


def test_ui_server_answers_on_loopback(ui_project: Any, ui_server: Any) -> None:
    base = ui_server(ui_project.ws)
    assert base.startswith("http://127.0.0.1:")
    with urllib.request.urlopen(base + "/healthz", timeout=10) as answer:
        doc: dict[str, Any] = json.loads(answer.read())
    assert doc == {"ok": True, "workspace": "Digits UI"}
