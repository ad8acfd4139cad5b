"""The demo's registry and serve steps: register, prove, ship, canary, roll back, read the log."""

from __future__ import annotations

from flywheel_ml.demo.release_step import MODEL, registry_step, serve_step
from tests.registry.conftest import Project


def test_the_release_steps_ship_and_roll_back(project: Project) -> None:
    ws = project.ws
    said: list[str] = []
    look_at = registry_step(ws, said.append)
    assert ws.registry.aliases(MODEL).keys() == {"champion", "candidate"}
    assert any(name == "model card" for name, _ in look_at)
    assert len(ws.data.audit()) == 1

    look_at += serve_step(ws, said.append)
    champion = f"{MODEL}@v{ws.registry.aliases(MODEL)['champion']}"
    kinds = [m.kind for m in ws.serve.history(MODEL)]
    assert kinds == ["deploy", "canary", "rollback"]
    assert ws.serve.get(MODEL).champion == champion and ws.serve.get(MODEL).canary is None
    log = ws.serve.read_log(model=MODEL)
    assert len(log) == 125
    # After the rollback returned, only the champion answered (the last 20 requests).
    assert set(log.sort_values("ts")["version"].tail(20)) == {champion}
    assert any("rolled back" in line for line in said)
