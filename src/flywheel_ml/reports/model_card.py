"""The model card: Markdown and HTML rendered from the registry's recorded facts.

Written to ``docs/model-<name>-v<N>.md`` and ``.html``. Every number on it comes from a record
(the version, its run, its newest sealed-test evaluation, the audit, the alias history, and
the 28 verdicts of its ML Test Score).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from flywheel_ml.core.ids import new_id
from flywheel_ml.registry.card import ModelCardFacts
from flywheel_ml.reports.readiness import ReadinessReport
from flywheel_ml.reports.rendering import markdown_html, render


@dataclass(frozen=True, slots=True)
class ModelCard:
    """Where a model card was written."""

    markdown: Path
    html: Path


def model_card_markdown(facts: ModelCardFacts, *, readiness: ReadinessReport | None = None) -> str:
    """The model card as Markdown; ``readiness`` (``ws.readiness(ref)``) adds the ML Test
    Score section, without it the card says how to compute it."""
    return render("model_card.md.j2", f=facts, r=readiness, fmt=_fmt, cell=_cell)


def write_model_card(
    facts: ModelCardFacts, docs_dir: Path, *, readiness: ReadinessReport | None = None
) -> ModelCard:
    """(Re)write the card of ``facts.version`` under ``docs_dir`` as Markdown and HTML."""
    markdown = model_card_markdown(facts, readiness=readiness)
    body = markdown_html(markdown)
    title = f"{facts.version.ref} — model card"
    html = (
        "<!doctype html>\n<html><head><meta charset='utf-8'>"
        f"<title>{_escape(title)}</title>"
        "<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;"
        "padding:0 1rem}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
        "padding:.2rem .5rem}</style></head><body>\n"
        f"{body}</body></html>\n"
    )
    docs_dir.mkdir(parents=True, exist_ok=True)
    stem = f"model-{facts.version.name}-v{facts.version.version}"
    paths = ModelCard(docs_dir / f"{stem}.md", docs_dir / f"{stem}.html")
    for target, text in ((paths.markdown, markdown), (paths.html, html)):
        tmp = target.with_name(f".{target.name}.{new_id()}")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, target)
    return paths


def _fmt(value: float | None) -> str:
    if value is None:
        return "not measured"
    return f"{value:.4g}"


def _cell(text: object) -> str:
    # Recorded text goes into Markdown table cells: a pipe or a newline would break the row.
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
