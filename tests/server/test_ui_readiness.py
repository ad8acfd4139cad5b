"""The readiness page (ML Test Score) in Chromium and over the JSON API: reached from the
dashboard and from a version's page, 28 tests with their verdicts, evidence and commands, and
a verdict that flips when the fact is recorded (a rollback)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest


def _rows(page: Any) -> dict[str, tuple[str, str]]:
    """test title -> (verdict, command) as the page shows them."""
    found = {}
    for row in page.locator("table.readiness tbody tr").all():
        cells = row.locator("td").all_inner_texts()
        found[cells[0].split(": ", 1)[1]] = (cells[1], cells[4])
    return found


@pytest.mark.browser
def test_readiness_page_from_the_dashboard_and_the_version_page(
    ui_project: Any, ui_server: Any, ui_page: Any, screenshot: Any
) -> None:
    base = ui_server(ui_project.ws)
    ui_page.goto(base + "/")
    with ui_page.expect_navigation():
        ui_page.click("text=Readiness of the champion (ML Test Score)")
    assert ui_page.url.endswith(f"/ui/registry/readiness/{ui_project.champion}")
    rows = _rows(ui_page)
    assert len(rows) == 28
    assert rows["Model quality is validated before serving"][0] == "passed"
    assert rows["Models are canaried before serving"][0] == "passed"
    assert rows["Serving models can be rolled back"] == (
        "not measurable yet",
        f"flywheel serve rollback {ui_project.model}",
    )
    assert rows["No feature's cost is too much"][0] == "outside Flywheel"
    summary = ui_page.locator(".readiness-summary").inner_text()
    report = ui_project.ws.readiness(ui_project.champion)
    assert f"Score {report.score:g} of 7" in summary
    assert f"{report.measurable} of 28 tests measurable" in summary
    evidence = ui_page.locator("tr", has_text="Models are canaried").inner_text()
    assert "canaried 1 time(s)" in evidence
    screenshot(ui_page, "registry-readiness")
    ui_page.goto(f"{base}/ui/registry/versions/{ui_project.canary}")
    ui_page.click("text=Readiness (ML Test Score)")
    assert f"Readiness of {ui_project.canary}" in ui_page.locator("h1").inner_text()
    assert ui_page.locator("table.readiness tbody tr").count() == 28


@pytest.mark.browser
def test_a_rollback_flips_its_readiness_test_on_the_page(
    fresh_ui_project: Any, ui_server: Any, ui_page: Any
) -> None:
    project = fresh_ui_project
    base = ui_server(project.ws)
    ui_page.goto(f"{base}/ui/registry/readiness/{project.champion}")
    before = _rows(ui_page)["Serving models can be rolled back"][0]
    project.ws.serve.rollback(project.model, reason="canary disagrees")
    ui_page.reload()
    after = ui_page.locator("tr", has_text="Serving models can be rolled back").inner_text()
    assert before == "not measurable yet"
    assert "passed" in after and "rolled back 1 time(s)" in after


def test_readiness_api_and_the_page_without_a_champion(
    ui_project: Any, ui_server: Any, fresh_ui_project: Any
) -> None:
    base = ui_server(ui_project.ws)
    with urllib.request.urlopen(f"{base}/api/v1/registry/readiness/digits-clf@champion") as got:
        data = json.loads(got.read())
    assert data["model"] == ui_project.champion and data["asked"] == "digits-clf@champion"
    assert len(data["items"]) == data["total"] == 28
    assert data["score"] == min(data["sections"].values())
    assert data["measurable"] == sum(i["state"] in ("passed", "failed") for i in data["items"])
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(f"{base}/api/v1/registry/readiness/nope@v1")
    assert missing.value.code == 404
    assert "nope" in json.loads(missing.value.read())["message"]
    ws = fresh_ui_project.ws
    ws.registry.remove_alias(fresh_ui_project.model, "champion", reason="test")
    other = ui_server(ws)
    with urllib.request.urlopen(f"{other}/ui/registry/readiness") as got:
        page = got.read().decode()
    assert "No model has a <code>champion</code> alias yet" in page
    assert "flywheel registry alias NAME champion VERSION" in page
