"""The error-analysis report: confusion, per-class metrics, slices, mistakes, calibration and
failure clusters of one model version, with the people's findings kept across regenerations.

Written to ``docs/error-analysis-<name>-v<N>.md`` and ``.html`` beside it, plus the three SVG
figures the Markdown links. The HTML is self-contained: the figures are inlined, no script and
no network is needed.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flywheel_ml.analyze.entities import ClusterAnalysis, ErrorAnalysis, SliceReport
from flywheel_ml.analyze.stage import AnalyzeStage
from flywheel_ml.core.clock import utc_now
from flywheel_ml.core.ids import new_id
from flywheel_ml.registry.entities import Evaluation
from flywheel_ml.reports.analysis_charts import confusion_svg, interval_svg, reliability_svg
from flywheel_ml.reports.human_sections import keep_human_sections, strip_markers
from flywheel_ml.reports.rendering import markdown_html, render

HUMAN_SECTIONS = {
    "findings": "What do the mistakes have in common? Which confusions, slices or clusters "
    "matter most for the product, and why?",
    "next_steps": "What will be done about them (more data, relabelling, features, a new model), "
    "and what was decided not to do?",
}


@dataclass(frozen=True, slots=True)
class ErrorAnalysisReport:
    """Where the report was written, the analyses it shows and its unwritten human sections."""

    markdown: Path
    html: Path
    errors: ErrorAnalysis
    slices: SliceReport
    clusters: ClusterAnalysis
    unwritten: tuple[str, ...]


def write_error_analysis(
    analyze: AnalyzeStage,
    ref: str,
    *,
    on: str = "val",
    purpose: str | None = None,
    evaluation: Callable[[str], Evaluation | None] | None = None,
) -> ErrorAnalysisReport:
    """Analyse model ``ref`` on split ``on`` and (re)write its error-analysis report.

    Args:
        evaluation: returns the newest sealed-test evaluation of a version (the registry's
            record), shown in the summary; None leaves it out.

    Raises:
        SealedTestError: ``on="test"`` without a ``purpose``.
    """
    model = analyze.model(ref)
    errors = analyze.errors(model.ref, on=on, purpose=purpose)
    slices = analyze.slices(model.ref, on=on, purpose=purpose)
    clusters = analyze.clusters(model.ref, on=on, purpose=purpose)
    path = analyze.report_path(model.ref)
    existing = path.read_text(encoding="utf-8") if path.is_file() else ""
    human, unwritten = keep_human_sections(HUMAN_SECTIONS, existing)
    stem = path.stem
    figures = {
        "confusion": f"{stem}.confusion.svg",
        "slices": f"{stem}.slices.svg",
        "calibration": f"{stem}.calibration.svg",
    }
    svgs = {
        "confusion": confusion_svg(errors.labels, errors.confusion),
        "slices": interval_svg([
            (r.name, r.accuracy, r.ci_low, r.ci_high, r.too_small)
            for r in slices.slices
            if r.accuracy is not None and r.ci_low is not None and r.ci_high is not None
        ]),
        "calibration": reliability_svg([(b.confidence, b.accuracy, b.rows)
                                        for b in errors.calibration]),
    }  # fmt: skip
    markdown = render(
        "error_analysis.md.j2",
        e=errors, s=slices, c=clusters, human=human, figures=figures,
        evaluation=None if evaluation is None else evaluation(model.ref),
        estimator=_estimator_name(model.estimator), generated_at=utc_now(),
        pct=_pct, num=_num, cell=_cell,
    )  # fmt: skip
    html = document_html(f"{model.ref} — error analysis", markdown,
                         {figures[k]: svgs[k] for k in figures})  # fmt: skip
    files = {path: markdown, path.with_suffix(".html"): html}
    files |= {path.parent / figures[k]: svgs[k] for k in figures}
    write_files(files)
    return ErrorAnalysisReport(path, path.with_suffix(".html"), errors, slices, clusters,
                               unwritten)  # fmt: skip


def body_html(markdown: str, figures: dict[str, str]) -> str:
    """``markdown`` as HTML; images naming a key of ``figures`` become that SVG inline. Raw HTML
    in the Markdown (recorded text) is shown as text, never run."""
    from html import escape

    body = markdown_html(strip_markers(markdown))
    for name, svg in figures.items():
        marker = f'src="{escape(name)}"'
        start = body.find("<img " + marker)
        while start != -1:
            end = body.index(">", start) + 1
            body = body[:start] + f"<figure>{svg}</figure>" + body[end:]
            start = body.find("<img " + marker)
    return body


def written_body_html(path: Path) -> str | None:
    """The HTML body of a report written earlier at ``path`` (Markdown), its SVG figures (files
    beside it) inlined; None when it was never written."""
    if not path.is_file():
        return None
    markdown = path.read_text(encoding="utf-8")
    figures = {
        figure.name: figure.read_text(encoding="utf-8")
        for figure in path.parent.glob(f"{path.stem}.*.svg")
    }
    return body_html(markdown, figures)


def document_html(title: str, markdown: str, figures: dict[str, str]) -> str:
    """A self-contained HTML page of ``markdown`` with ``figures`` inlined (see
    :func:`body_html`)."""
    from html import escape

    body = body_html(markdown, figures)
    return (
        "<!doctype html>\n<html><head><meta charset='utf-8'>"
        f"<title>{escape(title)}</title>"
        "<style>body{font-family:system-ui,sans-serif;max-width:64rem;margin:2rem auto;"
        "padding:0 1rem}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
        "padding:.2rem .5rem}figure{margin:1rem 0}</style></head><body>\n"
        f"{body}</body></html>\n"
    )


def write_files(files: dict[Path, str]) -> None:
    """Write each file whole (a temporary name, then a rename): readers never see half."""
    for target, text in files.items():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{new_id()}")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, target)


def _estimator_name(estimator: Any) -> str:
    kind = type(estimator)
    return f"{kind.__module__}.{kind.__qualname__}"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.4g}"


def _cell(text: object) -> str:
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")
