"""The Jinja2 environment every report renders with (templates ship inside the package)."""

from __future__ import annotations

from functools import cache
from typing import Any

import jinja2


@cache
def environment() -> jinja2.Environment:
    """The shared environment: package templates, strict undefined, no HTML autoescape for .md."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("flywheel_ml.reports", "templates"),
        undefined=jinja2.StrictUndefined,
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",)),
        keep_trailing_newline=True,
        trim_blocks=False,
    )


def render(template: str, **context: Any) -> str:
    """Render ``template`` (a file in ``reports/templates``) with ``context``."""
    return environment().get_template(template).render(**context)


def markdown_html(markdown: str, *, allow_html: bool = False) -> str:
    """CommonMark with tables as HTML. Raw HTML in the text (a description, a reason, a human
    section) is shown as text, never run, unless ``allow_html``."""
    from markdown_it import MarkdownIt

    return str(MarkdownIt("commonmark", {"html": allow_html}).enable("table").render(markdown))
