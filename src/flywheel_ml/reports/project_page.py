"""The project page as a Markdown document."""

from __future__ import annotations

from flywheel_ml.plan.entities import ProjectPage
from flywheel_ml.reports.rendering import render


def project_page_markdown(page: ProjectPage) -> str:
    """The project page rendered as Markdown."""
    return render("project_page.md.j2", page=page)
