"""The Monitor page (/ui/monitor) in a real browser, and its JSON."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest
from tests.monitor.conftest import MODEL, SHIFTED, Deployed, log_traffic

from flywheel_ml.monitor.feedback import FeedbackOptions


@pytest.mark.browser
def test_monitor_page_shows_drift_alerts_rules_and_turns(
    deployed: Deployed, ui_server: Any, ui_page: Any, screenshot: Any
) -> None:
    ws = deployed.ws
    truth: dict[str, Any] = {}
    log_traffic(deployed, n=300, shift=6.0, seed=41, truth=truth)
    ws.monitor.add_rule("psi(feature=*) > 0.2")
    ws.monitor.add_rule("age(champion) > 30d")
    ws.monitor.check()
    options = FeedbackOptions(low_confidence=0.9, sample=10, seed=3)
    queue, _, _ = ws.monitor.feedback(MODEL, options=options)
    for task in ws.label.tasks(queue):  # simulated annotators
        ws.label.submit(queue, task.item, "simulated-annotator", int(truth[task.item]))
    turn = ws.monitor.turn(MODEL, options=options, tolerance=0.1)
    assert turn.status == "canary"

    base = ui_server(ws)
    ui_page.goto(base + "/ui/monitor")
    main = ui_page.locator("main")
    assert "Turns of the flywheel" in main.inner_text()
    row = ui_page.locator("table.turns tr.turn").first
    assert "canary" in row.inner_text() and str(turn.model_version) in row.inner_text()
    assert str(turn.dataset_version) in row.inner_text()
    alerts = ui_page.locator("table.alerts tr.alert")
    assert alerts.count() == 1 and "psi" in alerts.first.inner_text()
    assert "age(champion) > 30d" in ui_page.locator("table.rules").inner_text()
    drifted = ui_page.locator("b.drifted").first.inner_text()
    assert all(f in drifted for f in SHIFTED)
    screenshot(ui_page, "monitor")

    with urllib.request.urlopen(base + "/api/v1/monitor") as answer:
        data = json.loads(answer.read())
    assert data["turns"][0]["status"] == "canary"
    assert data["turns"][0]["before"] is not None and data["turns"][0]["after"] is not None
    assert len(data["alerts"]) == 1
