"""The Analyze page (/ui/analyze) and its JSON API, opened in Chromium on a seeded workspace."""

from __future__ import annotations

from typing import Any

import pytest

from flywheel_ml.reports.error_analysis import write_error_analysis
from flywheel_ml.reports.experience import write_experience_report


def test_api_gives_the_analysis_and_refuses_the_sealed_split(
    ui_project: Any, ui_server: Any
) -> None:
    import httpx

    ws = ui_project.ws
    events = len(ws.events.recent(limit=10_000))
    base = ui_server(ws)
    found = httpx.get(f"{base}/api/v1/analyze/{ui_project.champion}", params={"on": "val"})
    assert found.status_code == 200
    body = found.json()
    expected = ws.analyze.errors(ui_project.champion, record=False)
    assert body["errors"]["accuracy"] == pytest.approx(expected.accuracy)
    assert body["errors"]["confusion"] == [list(r) for r in expected.confusion]
    assert body["clusters"]["clusters"] or body["clusters"]["explanation"]
    sealed = httpx.get(f"{base}/api/v1/analyze/{ui_project.champion}", params={"on": "test"})
    assert sealed.status_code == 422 and "purpose" in sealed.text  # InvalidInputError
    missing = httpx.get(f"{base}/api/v1/analyze/nope@v1")
    assert missing.status_code == 404
    assert len(ws.events.recent(limit=10_000)) == events  # reading the page records nothing
    for name in ("..%2F..%2F..%2Fetc%2Fpasswd", "x%00y", "a@b%2F..%2F..%2Fz"):
        outside = httpx.get(f"{base}/ui/analyze/reports/{name}")
        assert 400 <= outside.status_code < 500, name


@pytest.mark.browser
def test_analyze_page_shows_confusion_slices_and_clusters(
    ui_project: Any, ui_server: Any, chromium_page: Any, screenshot: Any
) -> None:
    base = ui_server(ui_project.ws)
    expected = ui_project.ws.analyze.errors(ui_project.champion, record=False)
    chromium_page.goto(base + "/ui/analyze")
    assert chromium_page.locator("h1").inner_text() == "Analyze"
    summary = chromium_page.locator("#summary").inner_text()
    assert ui_project.champion in summary and f"{100 * expected.accuracy:.1f}%" in summary
    assert chromium_page.locator("#confusion svg[aria-label='confusion matrix']").count() == 1
    assert chromium_page.locator("#confusion tbody tr").count() == len(expected.labels)
    assert chromium_page.locator("#slices tbody tr").count() == len(expected.slices)
    clusters = chromium_page.locator("#clusters").inner_text()
    assert "No cluster" in clusters or "DBSCAN" in clusters
    screenshot(chromium_page, "analyze")
    other = next(m for m in ui_project.ws.registry.list_versions() if m.ref != ui_project.champion)
    chromium_page.select_option("select[name=model]", other.ref)
    chromium_page.click("button[type=submit]")
    assert other.ref in chromium_page.locator("#summary").inner_text()


@pytest.mark.browser
def test_written_reports_render_on_the_page(
    fresh_ui_project: Any, ui_server: Any, chromium_page: Any, screenshot: Any
) -> None:
    ws = fresh_ui_project.ws
    report = write_error_analysis(ws.analyze, fresh_ui_project.champion)
    write_experience_report(
        plan=ws.plan, data=ws.data, track=ws.track, registry=ws.registry, analyze=ws.analyze,
        events=ws.events, docs_dir=ws.root / "docs",
    )  # fmt: skip
    base = ui_server(ws)
    chromium_page.goto(base + "/ui/analyze")
    chromium_page.click("text=error-analysis report")
    assert (
        f"Error analysis: {fresh_ui_project.champion}" in chromium_page.locator("h1").inner_text()
    )
    assert chromium_page.locator(".doc svg[aria-label='confusion matrix']").count() == 1
    assert f"{100 * report.errors.accuracy:.1f}%" in chromium_page.locator(".doc").inner_text()
    screenshot(chromium_page, "analyze-report")
    chromium_page.goto(base + "/ui/analyze/reports/experience")
    assert "Experience report" in chromium_page.locator("h1").inner_text()
    chromium_page.goto(base + "/ui/analyze/reports/nope@v9")
    assert "flywheel docs error-analysis nope@v9" in chromium_page.content()
