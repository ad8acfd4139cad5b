"""A digits project with two registered models (a good and a weak one) and a saved slice."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tests.registry.conftest import make_project


@dataclass(frozen=True, slots=True)
class Analyzed:
    """A workspace with ``digits-clf@v1`` (good) and ``digits-clf@v2`` (weak)."""

    ws: Any
    good: str
    weak: str


def make_analyzed(ws: Any, *, rows: int = 900) -> Analyzed:
    """Fill ``ws``: page, digits data, two runs, two registered versions, one slice."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the weak model stops early on purpose
        project = make_project(ws, rows=rows)
    good = ws.registry.register(project.good_run, name="digits-clf")
    weak = ws.registry.register(project.weak_run, name="digits-clf")
    ws.data.add_slice("digits", "dark-centre", where="px36 > 10")
    return Analyzed(ws, good.ref, weak.ref)


@pytest.fixture
def analyzed(sqlite_workspace: Any) -> Analyzed:
    """The analysed digits project on SQLite."""
    return make_analyzed(sqlite_workspace)


@pytest.fixture
def chromium_page() -> Any:
    """A page in headless Chromium started for this test alone and stopped after it.

    The shared session browser keeps Playwright's event loop running in the worker until the
    session ends, which breaks later tests in that worker that call ``asyncio.run``; a browser
    per test leaves nothing running. Requests may go to 127.0.0.1 and file:// only.
    """
    import os
    from pathlib import Path
    from urllib.parse import urlsplit

    from tests.ui_fixtures import CHROMIUM

    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"Chromium is missing at {CHROMIUM}")
        pytest.skip(f"Chromium is missing at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    foreign: list[str] = []
    errors: list[str] = []

    def guard(route: Any) -> None:
        url = route.request.url
        if url.startswith(("data:", "file:", "about:")) or urlsplit(url).hostname == "127.0.0.1":
            route.continue_()
        else:
            foreign.append(url)
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        try:
            context = browser.new_context(viewport={"width": 1360, "height": 900})
            context.route("**/*", guard)
            page = context.new_page()
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.set_default_timeout(15_000)
            yield page
        finally:
            browser.close()
    assert not foreign, f"requests left 127.0.0.1: {foreign}"
    assert not errors, f"page scripts threw: {errors}"
