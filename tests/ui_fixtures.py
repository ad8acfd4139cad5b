"""Fixtures for web UI tests, shared by every stage (loaded from tests/conftest.py).

- :func:`seed_ui_project` fills a workspace with a small digits project: a project page, two
  dataset versions with a slice, runs with params, curves and models, a registered model with
  an evaluation and a ``champion`` alias, a deployment with a canary, and prediction-log rows
  answered by the real gateway (in process).
- ``ui_project`` (session) is one seeded workspace for read-only tests; ``fresh_ui_project``
  seeds a new one for a test that writes.
- ``ui_server(ws, write=False)`` starts the UI on real uvicorn on 127.0.0.1 on a free port and
  returns its base URL.
- ``ui_browser`` (session) is headless Debian Chromium; ``ui_page`` a fresh page in a context
  that fails the test if any request goes to a host other than 127.0.0.1 or a page script
  throws; ``screenshot(page, name)`` saves ``test-artifacts/ui/<name>.png``.

Browser tests carry ``@pytest.mark.browser``; they are skipped when Chromium is missing (CI
installs it, see .ci/run). A stage that needs its own data on the page: a session fixture in
its tests' conftest that calls :func:`seed_ui_project` and then adds the stage's records (the
UI tests in tests/server assert on exactly what is seeded here).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

CHROMIUM = os.environ.get("FLYWHEEL_TEST_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "ui"
MODEL = "digits-clf"


@dataclass(frozen=True, slots=True)
class UiProject:
    """A seeded workspace and the names tests assert on."""

    ws: Any
    good_run: str
    weak_run: str
    curve_run: str
    model: str
    champion: str
    canary: str


def _digits(rows: int) -> Any:
    import pandas as pd
    from sklearn.datasets import load_digits

    digits = load_digits()
    frame = pd.DataFrame(digits.data[:rows], columns=[f"px{i}" for i in range(64)])
    frame["label"] = digits.target[:rows]
    frame["item"] = [f"d{i:04d}" for i in range(rows)]
    return frame


def _train(
    ws: Any,
    *,
    name: str,
    C: float,  # noqa: N803
    max_iter: int,
    steps: int,
    latency_ms: float,
) -> str:
    from sklearn.linear_model import LogisticRegression

    train = ws.data.load("digits@latest", split="train")
    features = [f"px{i}" for i in range(64)]
    with ws.track.start_run(
        name=name, params={"C": C, "max_iter": max_iter}, tags={"kind": "logreg"},
        datasets=["digits"],
    ) as run:  # fmt: skip
        model = LogisticRegression(C=C, max_iter=max_iter)
        model.fit(train[features].to_numpy(), train["label"].to_numpy())
        for step in range(steps):
            run.log_metric("loss", 2.0 / (1 + step * C * 0.5) + 0.01, step=step)
        accuracy = float(model.score(train[features].to_numpy(), train["label"].to_numpy()))
        run.log_metric("val_accuracy", accuracy, step=steps)
        run.log_metric("latency_p95_ms", latency_ms, step=steps)
        run.log_model(model)
        run_id = str(run.id)
    return run_id


def seed_ui_project(root: Path) -> UiProject:
    """Create and fill a workspace at ``root`` (takes a few seconds: two small models)."""
    import numpy as np
    from starlette.testclient import TestClient

    import flywheel_ml as fw
    from flywheel_ml.serve.predlog import PredictionLog
    from flywheel_ml.server.gateway import Gateway

    ws = fw.init_workspace(root, name="Digits UI")
    ws.plan.set(
        problem="Recognise handwritten digits from 8x8 scans",
        value="Sorting mail without a human in the loop",
        feasibility="Public digits data; linear models reach 95%",
        objective="accuracy max",
        add_constraints=["latency_p95_ms < 1000", "model_mb < 50"],
    )
    ws.data.add(_digits(300), name="digits", label="label", id="item", message="first scans")
    ws.data.add(_digits(400), name="digits", label="label", id="item", message="more scans")
    ws.data.add_slice("digits", "bright-centre", where="px28 > 8")
    good = _train(ws, name="logreg-good", C=1.0, max_iter=300, steps=60, latency_ms=2.5)
    weak = _train(ws, name="logreg-weak", C=0.0001, max_iter=100, steps=60, latency_ms=1500.0)
    with ws.track.start_run(name="long-curve", params={"lr": 0.01}) as run:
        values = np.exp(-np.arange(5000) / 1500.0) + np.sin(np.arange(5000) / 40.0) * 0.05
        for step, value in enumerate(values.tolist()):
            run.log_metric("loss", value, step=step)
        curve = str(run.id)
    champion = ws.registry.register(good, name=MODEL, description="good logistic regression")
    canary = ws.registry.register(weak, name=MODEL, description="weak logistic regression")
    evaluation = ws.registry.evaluate(champion.ref, reason="ui test release evaluation")
    ws.registry.set_alias(
        MODEL, "champion", champion.version, override=not evaluation.passed,
        reason="passed the release gates" if evaluation.passed else "ui test: ship anyway",
    )  # fmt: skip
    ws.registry.evaluate(canary.ref, reason="ui test candidate evaluation")
    ws.serve.deploy(champion.ref, reason="first deployment")
    ws.serve.canary(canary.ref, percent=30, reason="try the weak one")
    rows = _digits(40)[[f"px{i}" for i in range(64)]].to_numpy(dtype="float64").tolist()
    predlog = PredictionLog(ws.serve.log_dir)
    gateway = Gateway(ws.serve, predlog=predlog)
    with TestClient(gateway, base_url="http://127.0.0.1") as client:
        for i in range(60):
            answer = client.post(
                f"/v1/models/{MODEL}/predict", json={"rows": [rows[i % 40]], "key": f"user-{i}"}
            )
            assert answer.status_code == 200, answer.text
    return UiProject(
        ws=ws, good_run=good, weak_run=weak, curve_run=curve, model=MODEL,
        champion=champion.ref, canary=canary.ref,
    )  # fmt: skip


@pytest.fixture(scope="session")
def ui_project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiProject]:
    """One seeded workspace for the session; tests must not change it (use fresh_ui_project)."""
    saved = os.environ.get("FLYWHEEL_USER")
    os.environ["FLYWHEEL_USER"] = "tester"
    try:
        project = seed_ui_project(tmp_path_factory.mktemp("ui") / "ws")
    finally:
        if saved is None:
            os.environ.pop("FLYWHEEL_USER", None)
        else:
            os.environ["FLYWHEEL_USER"] = saved
    try:
        yield project
    finally:
        project.ws.close()


@pytest.fixture
def fresh_ui_project(tmp_path: Path) -> Iterator[UiProject]:
    """A seeded workspace of this test's own, for tests that write."""
    project = seed_ui_project(tmp_path / "ws")
    try:
        yield project
    finally:
        project.ws.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def ui_server() -> Iterator[Callable[..., str]]:
    """``start(ws, write=False) -> base URL``: the UI on real uvicorn in a thread."""
    import uvicorn

    from flywheel_ml.server.ui_app import create_ui_app

    started: list[tuple[Any, threading.Thread]] = []

    def start(ws: Any, *, write: bool = False) -> str:
        port = _free_port()
        app = create_ui_app(ws, write=write)
        config = uvicorn.Config(
            app, host="127.0.0.1", port=port, access_log=False, log_level="warning",
            lifespan="off",
        )  # fmt: skip
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, name="test-ui", daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the UI server did not start")
            time.sleep(0.01)
        started.append((server, thread))
        return f"http://127.0.0.1:{port}"

    yield start
    for server, thread in started:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture(scope="module")
def ui_browser() -> Iterator[Any]:
    """Headless Chromium (Debian's) driven by Playwright; skipped when Chromium is missing.

    Module-scoped on purpose: Playwright's sync API keeps an event loop running in the thread
    until it stops, which breaks any later test in the same worker that starts a loop of its
    own (``asyncio.run``, another ``sync_playwright``). Stopping it after each module keeps the
    test files independent of the order xdist runs them in.
    """
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"Chromium is missing at {CHROMIUM} (CI installs the chromium package)")
        pytest.skip(f"Chromium is missing at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def ui_page(ui_browser: Any) -> Iterator[Any]:
    """A fresh page; the test fails if a request leaves 127.0.0.1 or a page script throws."""
    context = ui_browser.new_context(viewport={"width": 1360, "height": 900})
    foreign: list[str] = []
    errors: list[str] = []

    def guard(route: Any) -> None:
        url = route.request.url
        host = urlsplit(url).hostname
        if url.startswith(("data:", "blob:", "about:")) or host == "127.0.0.1":
            route.continue_()
        else:
            foreign.append(url)
            route.abort()

    context.route("**/*", guard)
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.set_default_timeout(15_000)
    try:
        yield page
    finally:
        context.close()
    assert not foreign, f"requests left 127.0.0.1: {foreign}"
    assert not errors, f"page scripts threw: {errors}"


@pytest.fixture
def screenshot() -> Callable[[Any, str], Path]:
    """``screenshot(page, name)``: save a full-page PNG under test-artifacts/ui/."""

    def take(page: Any, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
