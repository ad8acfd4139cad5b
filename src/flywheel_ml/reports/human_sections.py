"""Sections of generated documents that people write: kept verbatim when a document is rebuilt.

Each sits between ``<!-- human:KEY -->`` and ``<!-- /human:KEY -->``; regeneration renders every
recorded fact afresh and puts back whatever text stood between the markers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_BLOCK = re.compile(
    r"<!-- human:(?P<key>[a-z_]+) -->\n?(?P<body>.*?)\n?<!-- /human:(?P=key) -->", re.S
)
_MARKER = re.compile(r"^<!-- /?human:[a-z_]+ -->\n?", re.M)


def human_blocks(existing: str) -> dict[str, str]:
    """The text of every human section found in a previously written document."""
    return {m.group("key"): m.group("body").strip() for m in _BLOCK.finditer(existing)}


def keep_human_sections(
    prompts: Mapping[str, str], existing: str
) -> tuple[dict[str, str], tuple[str, ...]]:
    """Each section's Markdown (with markers), and the keys still holding only their prompt.

    Args:
        prompts: section key -> the question shown in italics until someone answers it.
        existing: the document as last written ('' for a new one).
    """
    kept = human_blocks(existing)
    sections: dict[str, str] = {}
    unwritten: list[str] = []
    for key, prompt in prompts.items():
        body = kept.get(key, "")
        if not body or body == f"_{prompt}_":
            unwritten.append(key)
            body = f"_{prompt}_"
        sections[key] = f"<!-- human:{key} -->\n{body}\n<!-- /human:{key} -->"
    return sections, tuple(unwritten)


def strip_markers(markdown: str) -> str:
    """``markdown`` without the human-section markers (for HTML rendered without raw HTML)."""
    return _MARKER.sub("", markdown)
