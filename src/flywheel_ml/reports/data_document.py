"""The data document: recorded facts of a dataset plus sections people write and keep.

Written to ``docs/data-<name>.md`` (and ``.html`` beside it). The datasheet questions (motivation,
collection, labelling, known issues, uses) are "written by people": each sits between
``<!-- human:KEY -->`` and ``<!-- /human:KEY -->`` markers, and regeneration keeps whatever text
stands between them while every recorded fact is rendered afresh.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

from flywheel_ml.core.clock import utc_now
from flywheel_ml.core.ids import new_id
from flywheel_ml.data.entities import CheckReport
from flywheel_ml.data.stage import DataStage
from flywheel_ml.reports.rendering import markdown_html, render

HUMAN_SECTIONS = {
    "motivation": "Why was the dataset created, for which task, by whom?",
    "collection": "How were the items collected or sampled, over what period, with what consent?",
    "labelling": "Who labelled the items, with which instructions, and how was quality checked?",
    "known_issues": "Known errors, noise, gaps or biases.",
    "uses": "What the data should and should not be used for.",
}
_BLOCK = re.compile(
    r"<!-- human:(?P<key>[a-z_]+) -->\n?(?P<body>.*?)\n?<!-- /human:(?P=key) -->", re.S
)


@dataclass(frozen=True, slots=True)
class DataDocument:
    """Where the document was written and which human sections still hold only their prompt."""

    markdown: Path
    html: Path
    unwritten: tuple[str, ...]


def _describe(info: dict[str, Any]) -> str:
    if "categories" in info:
        cats = list(info["categories"])
        return ", ".join(cats[:8]) + (f" … ({len(cats)})" if len(cats) > 8 else "")
    if "min" in info:
        return f"{info['min']} – {info['max']}"
    if "length" in info:
        length = info["length"]
        return f"{length['min']}–{length['max']} chars (mean {length['mean']})"
    return ""


def _human_blocks(existing: str) -> dict[str, str]:
    return {m.group("key"): m.group("body").strip() for m in _BLOCK.finditer(existing)}


def _size_text(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def render_data_document(
    data: DataStage, name: str, *, existing: str = "", check: CheckReport | None = None
) -> tuple[str, tuple[str, ...]]:
    """The Markdown of dataset ``name``'s document, keeping human blocks found in ``existing``.

    Returns the Markdown and the keys of human sections that are still unwritten.
    """
    dataset = data.get_dataset(name)
    versions = data.list_versions(name)
    latest = versions[-1]
    kept = _human_blocks(existing)
    human = {}
    unwritten = []
    for key, prompt in HUMAN_SECTIONS.items():
        body = kept.get(key, "")
        if not body or body == f"_{prompt}_":
            unwritten.append(key)
            body = f"_{prompt}_"
        human[key] = f"<!-- human:{key} -->\n{body}\n<!-- /human:{key} -->"
    labels = sorted(latest.facts.get("labels", {}).items(), key=lambda kv: (-kv[1], kv[0]))
    markdown = render(
        "data_document.md.j2",
        dataset=dataset,
        latest=latest,
        versions=versions,
        labels=labels,
        splits=latest.facts.get("splits", {}),
        schema=latest.facts.get("schema", {"kind": "table", "columns": {}}),
        policy=data.split_policy(),
        reads=data.audit(dataset=name),
        check=check,
        human=human,
        describe=_describe,
        size_text=_size_text(latest.size),
        generated_at=utc_now(),
    )
    return markdown, tuple(unwritten)


_MARKER_LINE = re.compile(r"^<!-- /?human:[a-z_]+ -->\n?", re.M)


def document_html(markdown: str) -> str:
    """The document's Markdown as HTML. Raw HTML in it (human sections are user input) is shown
    as text, never run; only the section markers are taken out first, so they do not show."""
    return markdown_html(_MARKER_LINE.sub("", markdown))


def write_data_document(data: DataStage, name: str) -> DataDocument:
    """Check the newest version, then (re)write ``docs/data-<name>.md`` and ``.html``."""
    check = data.check(f"{name}@latest")
    path = data.document_path(name)
    existing = path.read_text(encoding="utf-8") if path.is_file() else ""
    markdown, unwritten = render_data_document(data, name, existing=existing, check=check)
    html_body = document_html(markdown)
    html = (
        "<!doctype html>\n<html><head><meta charset='utf-8'>"
        f"<title>{escape(name)} — data document</title>"
        "<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;"
        "padding:0 1rem}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
        "padding:.2rem .5rem}</style></head><body>\n"
        f"{html_body}</body></html>\n"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    html_path = path.with_suffix(".html")
    for target, text in ((path, markdown), (html_path, html)):
        tmp = target.with_name(f".{target.name}.{new_id()}")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, target)
    return DataDocument(path, html_path, unwritten)
