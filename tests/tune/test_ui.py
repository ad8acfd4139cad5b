"""The Tune page (/ui/tune) in a real browser, and its JSON."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest

from flywheel_ml.tune import parse_config
from tests.tune.conftest import CONFIG


@pytest.mark.browser
def test_tune_page_shows_baselines_search_curve_and_diagnosis(
    digits_ws: Any, ui_server: Any, ui_page: Any, screenshot: Any
) -> None:
    ws = digits_ws
    ws.tune.baselines("digits@v1")
    ws.tune.record_human_baseline(0.99)
    config = parse_config(CONFIG)
    ws.tune.learning_curve(config, sizes=(0.5, 1.0))
    stump = ws.tune.train(parse_config(CONFIG.replace("max_depth: 8", "max_depth: 1")))
    ws.tune.search(config, study="tree", n_trials=6)

    base = ui_server(ws)
    ui_page.goto(base + "/ui/tune")
    main = ui_page.locator("main")
    rows = ui_page.locator("table.baselines tr.baseline")
    assert rows.count() == 5
    assert "ceiling" in rows.first.inner_text() and "human" in rows.first.inner_text()
    assert "floor" in ui_page.locator("table.baselines").inner_text()
    assert ui_page.locator("table.trials tr.trial").count() == 6
    assert ui_page.locator("#history-chart").count() == 1
    assert ui_page.locator(".curve .verdict").count() == 1
    assert "avoidable bias" in ui_page.locator("p.dominant-gap").inner_text()
    assert "use a bigger model" in ui_page.locator("ul.remedies").inner_text()
    assert "tree" in main.inner_text()
    screenshot(ui_page, "tune")

    with urllib.request.urlopen(base + "/api/v1/tune?study=tree") as answer:
        data = json.loads(answer.read())
    assert data["study"]["completed"] == 6
    assert data["diagnosis"]["run_id"] == stump.id
    assert data["diagnosis"]["dominant"] == "avoidable_bias"
    assert len(data["baselines"]) == 5
