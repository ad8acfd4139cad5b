"""Every UI page opened in Chromium on a seeded workspace: real content, a screenshot each."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.browser


def test_dashboard_shows_project_stages_and_activity(
    ui_project: Any, ui_server: Any, ui_page: Any, screenshot: Any
) -> None:
    base = ui_server(ui_project.ws)
    ui_page.goto(base + "/")
    assert ui_page.locator("h1").inner_text() == "Digits UI"
    assert ui_page.locator(".stage-card").count() == 9
    assert "accuracy" in ui_page.locator("section.card").first.inner_text()
    assert ui_page.locator("#stage-registry").get_by_text("done").count() >= 1
    assert "deployment.canary" in ui_page.locator("ol.feed").inner_text()
    screenshot(ui_page, "dashboard")
    ui_page.emulate_media(color_scheme="light")
    ui_page.click("#theme-toggle")
    assert ui_page.evaluate("document.documentElement.dataset.theme") == "dark"
    background = ui_page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(15, 19, 26)"
    screenshot(ui_page, "dashboard-dark")
    ui_page.reload()  # the choice is kept
    assert ui_page.evaluate("document.documentElement.dataset.theme") == "dark"
    ui_page.click("text=activity")
    assert "run.started" in ui_page.locator("ol.feed").inner_text()
    screenshot(ui_page, "activity")


def test_pages_read_without_javascript(ui_project: Any, ui_server: Any, ui_browser: Any) -> None:
    base = ui_server(ui_project.ws)
    context = ui_browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(f"{base}/ui/track/runs/{ui_project.curve_run}")
        assert page.locator("figure.chart .chart-svg svg polyline").count() == 1
        assert "1,000 of 5,000 points" in page.locator("figure.chart").inner_text()
        page.goto(f"{base}/ui/serve/{ui_project.model}")
        assert "canary 30%" in page.locator(".split").inner_text()
    finally:
        context.close()


def test_stage_without_a_page_says_so(ui_project: Any, ui_server: Any, ui_page: Any) -> None:
    from flywheel_ml.server.ui_app import STAGE_ROUTERS

    pageless = [s for s in ("label", "tune", "analyze") if s not in STAGE_ROUTERS]
    if not pageless:
        pytest.skip("every stage has a page")
    base = ui_server(ui_project.ws)
    ui_page.goto(base + f"/ui/{pageless[0]}")
    assert "No page yet" in ui_page.content()
    assert f"flywheel {pageless[0]}" in ui_page.locator("main").inner_text()


def test_plan_page_and_dark_theme(
    ui_project: Any, ui_server: Any, ui_page: Any, screenshot: Any
) -> None:
    base = ui_server(ui_project.ws)
    ui_page.goto(base + "/ui/plan")
    text = ui_page.locator("main").inner_text()
    assert "Recognise handwritten digits" in text
    assert "latency_p95_ms < 1000" in text
    ui_page.click("#theme-toggle")
    assert ui_page.evaluate("document.documentElement.dataset.theme") in ("dark", "light")
    screenshot(ui_page, "plan")


def test_track_table_filter_sort_and_run_page(
    ui_project: Any, ui_server: Any, ui_page: Any, screenshot: Any
) -> None:
    base = ui_server(ui_project.ws)
    ui_page.goto(base + "/ui/track")
    table = ui_page.locator("table.runs tbody")
    assert table.locator("tr").count() == 3
    assert "logreg-good" in table.inner_text()
    screenshot(ui_page, "track-runs")
    ui_page.fill("input[name=where]", "params.C < 0.5")
    with ui_page.expect_navigation():
        ui_page.click("form.filter button[type=submit]")
    assert table.locator("tr").count() == 1
    assert "logreg-weak" in table.inner_text()
    ui_page.fill("input[name=where]", "metrics.nope >")
    with ui_page.expect_navigation():
        ui_page.click("form.filter button[type=submit]")
    assert "expected a value" in ui_page.locator("[role=alert]").inner_text()
    ui_page.goto(base + "/ui/track")
    with ui_page.expect_navigation():
        ui_page.click("th >> text=val_accuracy")
    assert table.locator("tr").first.locator("td").nth(1).inner_text() == "logreg-good"
    ui_page.click("text=logreg-good")
    assert ui_page.locator("h1").inner_text() == "logreg-good"
    assert "lineage/packages.txt" in ui_page.locator("main").inner_text()
    good = ui_project.ws.track.get_run(ui_project.good_run)
    shown = ui_page.locator("main").inner_text()
    assert f"{good.metrics['val_accuracy']:.4g}" in shown
    ui_page.wait_for_selector("figure.chart.live .chart-plot .main-svg")
    screenshot(ui_page, "track-run")


def test_track_compare_overlays_curves(
    ui_project: Any, ui_server: Any, ui_page: Any, screenshot: Any
) -> None:
    base = ui_server(ui_project.ws)
    ui_page.goto(base + "/ui/track")
    submit = ui_page.locator("button[form=compare-form]")
    assert submit.is_disabled()
    ui_page.check(f"input[value='{ui_project.good_run[-8:]}']")
    ui_page.check(f"input[value='{ui_project.curve_run[-8:]}']")
    submit.click()
    assert ui_page.locator("h1").inner_text() == "Compare 2 runs"
    ui_page.wait_for_selector("figure.chart.live .chart-plot .main-svg")
    assert ui_page.locator("figure.chart.live .chart-plot .scatterlayer .trace").count() == 2
    assert "params.C" in ui_page.locator("table.compare").inner_text()
    screenshot(ui_page, "track-compare")


def test_track_leaderboard_marks_constraint_breaks(
    ui_project: Any, ui_server: Any, ui_page: Any, screenshot: Any
) -> None:
    base = ui_server(ui_project.ws)
    ui_page.goto(base + "/ui/track/leaderboard")
    rows = ui_page.locator("table.leaderboard tbody tr")
    assert rows.first.locator("td").nth(2).inner_text().startswith("logreg-good")
    assert "all met" in rows.first.inner_text()
    weak = rows.nth(1)
    assert weak.locator("td").nth(2).inner_text().startswith("logreg-weak")
    assert "✗ latency_p95_ms < 1000 (measured 1500)" in weak.inner_text()
    assert "fail" in (weak.get_attribute("class") or "")
    screenshot(ui_page, "track-leaderboard")
    ui_page.check(f"input[value='{ui_project.good_run[-8:]}']")
    ui_page.check(f"input[value='{ui_project.weak_run[-8:]}']")
    with ui_page.expect_navigation():
        ui_page.click("button[form=compare-form]")
    assert ui_page.locator("h1").inner_text() == "Compare 2 runs"


def test_data_pages(ui_project: Any, ui_server: Any, ui_page: Any, screenshot: Any) -> None:
    base = ui_server(ui_project.ws)
    ui_page.goto(base + "/ui/data")
    assert "digits@v2" in ui_page.locator("table.versions").inner_text()
    screenshot(ui_page, "data-datasets")
    ui_page.click("text=digits@v2")
    assert ui_page.locator("h1").inner_text() == "digits@v2"
    main = ui_page.locator("main").inner_text()
    assert "bright-centre" in main
    assert "Class balance" in main
    assert ui_page.locator("figure.hist").count() == 16
    screenshot(ui_page, "data-version")
    with ui_page.expect_navigation():
        ui_page.click(".pagehead .actions button")
    assert ui_page.locator(".kpi").first.inner_text().startswith("ADDED")
    assert "100" in ui_page.locator(".kpi").first.inner_text()
    screenshot(ui_page, "data-diff")
    ui_page.goto(base + "/ui/data/audit")
    assert "ui test release evaluation" in ui_page.locator("table.audit").inner_text()
    screenshot(ui_page, "data-audit")
    ui_page.goto(base + "/ui/data/documents/digits")
    assert "digits" in ui_page.locator(".doc h1").inner_text()
    screenshot(ui_page, "data-document")


def test_registry_pages(ui_project: Any, ui_server: Any, ui_page: Any, screenshot: Any) -> None:
    base = ui_server(ui_project.ws)
    ui_page.goto(base + "/ui/registry")
    versions = ui_page.locator("table.versions").first.inner_text()
    assert ui_project.champion in versions
    assert "champion" in versions
    assert "passed the release gates" in ui_page.locator("table.history").inner_text()
    screenshot(ui_page, "registry")
    ui_page.click(f"text={ui_project.champion}")
    constraints = ui_page.locator("table.constraints").first.inner_text()
    assert "latency_p95_ms < 1000" in constraints
    assert "pass" in constraints
    screenshot(ui_page, "registry-version")
    ui_page.click("text=Model card")
    assert ui_project.champion in ui_page.locator(".doc").inner_text()
    screenshot(ui_page, "registry-card")
    ui_page.goto(f"{base}/ui/registry/models/{ui_project.model}")
    assert "champion → v1" in ui_page.locator(".pagehead").inner_text()
    screenshot(ui_page, "registry-model")


def test_serve_page_shows_split_and_traffic(
    ui_project: Any, ui_server: Any, ui_page: Any, screenshot: Any
) -> None:
    base = ui_server(ui_project.ws)
    ui_page.goto(base + "/ui/serve")
    assert "canary 30%" in ui_page.locator(".split").inner_text()
    screenshot(ui_page, "serve")
    ui_page.click(f"text={ui_project.model}")
    assert ui_page.locator(".kpi .value").first.inner_text() == "60"
    ui_page.wait_for_selector("figure.chart.live .chart-plot .main-svg")
    screenshot(ui_page, "serve-model")
    ui_page.click("#rollback")
    assert ui_page.locator("#confirm").is_disabled()
    assert "read-only" in ui_page.locator("main").inner_text()


def test_canary_rollback_clicked_through(
    fresh_ui_project: Any, ui_server: Any, ui_page: Any, screenshot: Any
) -> None:
    project = fresh_ui_project
    base = ui_server(project.ws, write=True)
    ui_page.goto(f"{base}/ui/serve/{project.model}")
    ui_page.click("#rollback")
    assert f"The canary {project.canary} is dropped" in ui_page.locator(".lead").inner_text()
    ui_page.fill("input[name=reason]", "canary disagrees too often")
    screenshot(ui_page, "serve-confirm")
    with ui_page.expect_navigation():
        ui_page.click("#confirm")
    assert "Rolled back" in ui_page.locator("[role=status]").inner_text()
    assert "canary" not in ui_page.locator(".split").inner_text()
    screenshot(ui_page, "serve-rolled-back")
    state = project.ws.serve.get(project.model)
    assert (state.champion, state.canary) == (project.champion, None)
    move = project.ws.serve.history(project.model)[-1]
    assert (move.kind, move.reason, move.actor) == (
        "rollback",
        "canary disagrees too often",
        "tester",
    )
    event = project.ws.events.recent(limit=1, stage="serve")[0]
    assert (event.kind, event.subject, event.actor) == ("ui.rollback", project.model, "tester")
    assert event.detail["via"] == "ui"
