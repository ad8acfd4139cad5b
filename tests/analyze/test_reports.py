"""The error-analysis and experience reports: real numbers of the workspace, human sections
kept across regenerations, self-contained HTML that renders in Chromium."""

from __future__ import annotations

from typing import Any

import pytest

from flywheel_ml.reports.error_analysis import write_error_analysis
from flywheel_ml.reports.experience import write_experience_report
from tests.analyze.conftest import Analyzed


def _experience(ws: Any) -> Any:
    return write_experience_report(
        plan=ws.plan, data=ws.data, track=ws.track, registry=ws.registry, analyze=ws.analyze,
        events=ws.events, docs_dir=ws.root / "docs",
    )  # fmt: skip


def test_error_analysis_report_holds_the_real_numbers(analyzed: Analyzed) -> None:
    ws = analyzed.ws
    report = write_error_analysis(ws.analyze, analyzed.weak,
                                  evaluation=ws.registry.latest_evaluation)  # fmt: skip
    assert report.markdown.name == "error-analysis-digits-clf-v2.md"
    text = report.markdown.read_text()
    found = ws.analyze.errors(analyzed.weak)
    assert f"**{100 * found.accuracy:.1f}%**" in text
    assert f"| {found.rows:,} / {found.errors:,} |" in text
    # The first confusion-matrix row, cell by cell.
    first = "| **" + found.labels[0] + "** |" + "".join(f" {v} |" for v in found.confusion[0])
    assert first in text
    for c in found.per_class[:3]:
        assert f"| {c.label} | {c.precision:.4g} | {c.recall:.4g} |" in text
    dark = next(s for s in report.slices.slices if s.name == "dark-centre")
    assert f"| dark-centre | slice | {dark.rows} |" in text
    if report.clusters.clusters:
        assert f"| 1 | {report.clusters.clusters[0].size} |" in text
    else:
        assert report.clusters.explanation in text
    html = report.html.read_text()
    assert "<svg" in html and "<script" not in html and "<img" not in html
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "")
    for suffix in ("confusion", "slices", "calibration"):
        assert (report.markdown.parent / f"{report.markdown.stem}.{suffix}.svg").is_file()
    assert report.unwritten == ("findings", "next_steps")


def test_human_sections_survive_regeneration(analyzed: Analyzed) -> None:
    ws = analyzed.ws
    first = write_error_analysis(ws.analyze, analyzed.good)
    text = first.markdown.read_text()
    start = text.index("<!-- human:findings -->") + len("<!-- human:findings -->\n")
    end = text.index("<!-- /human:findings -->")
    mine = "Most mistakes are 8s written with an open loop.\n\nWe will collect more of them."
    first.markdown.write_text(text[:start] + mine + "\n" + text[end:])
    second = write_error_analysis(ws.analyze, analyzed.good)
    again = second.markdown.read_text()
    assert mine in again
    assert second.unwritten == ("next_steps",)
    assert "open loop" in second.html.read_text()
    assert "human:findings" not in second.html.read_text()


def test_experience_report_from_recorded_facts(analyzed: Analyzed) -> None:
    ws = analyzed.ws
    for name, value in (("baseline", 0.81), ("wider", 0.78), ("tuned", 0.93)):
        with ws.track.start_run(name=name, params={"C": value}) as run:
            run.log_metric("val_accuracy", value)
    ws.analyze.features(analyzed.good, repeats=2)
    evaluation = ws.registry.evaluate(analyzed.good, reason="release")
    ws.registry.set_alias("digits-clf", "champion", 1, reason="first release", override=True)
    report = _experience(ws)
    text = report.markdown.read_text()
    assert report.baseline == pytest.approx(0.81)
    assert report.best == pytest.approx(0.93)
    assert report.final == pytest.approx(evaluation.objective_value)
    assert f"| {analyzed.good} ({'passed' if evaluation.passed else 'failed'}" in text
    assert "**tuned**" in text and "**baseline**" in text and "**wider**" not in text
    assert "Runs that did not beat the best so far: 1 (e.g. wider 0.78)" in text
    assert "| digits@v1 | 900 |" in text
    assert "**remove features** on digits-clf@v1" in text
    assert "version.registered" in text  # the timeline
    assert "errors.analyzed" not in text
    # Human sections are kept across regenerations.
    edited = text.replace(
        "_What would the team do differently next time? What should others know?_",
        "Measure the OCR first.",
    )
    report.markdown.write_text(edited)
    again = _experience(ws)
    assert "Measure the OCR first." in again.markdown.read_text()
    assert "lessons" not in again.unwritten


@pytest.mark.browser
def test_reports_render_in_chromium(analyzed: Analyzed, chromium_page: Any) -> None:
    ws = analyzed.ws
    report = write_error_analysis(ws.analyze, analyzed.good)
    experience = _experience(ws)
    page = chromium_page
    # The fixture's guard lets only file:, data: and 127.0.0.1 through: a CDN script or a font
    # would fail the test.
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(report.html.as_uri())
    assert page.locator("h1").inner_text() == f"Error analysis: {analyzed.good}"
    assert page.locator("svg[aria-label='confusion matrix']").count() == 1
    box = page.locator("svg[aria-label='confusion matrix']").bounding_box()
    assert box is not None and box["width"] > 100
    assert page.locator("table").count() >= 4
    page.goto(experience.html.as_uri())
    assert "Experience report" in page.locator("h1").inner_text()
    assert all(url.startswith("file://") for url in requests)
