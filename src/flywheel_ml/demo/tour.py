"""``flywheel demo``: build a demo project on scikit-learn's digits and walk the lifecycle.

Each lifecycle stage that Flywheel builds adds a step here, so the demo always shows the whole
product. Steps print what they do through ``say`` and the result names where to look.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from flywheel_ml.config import PROJECT_FILE
from flywheel_ml.demo.analyze_step import analyze_step, experience_step
from flywheel_ml.demo.data_step import data_step
from flywheel_ml.demo.label_step import label_step
from flywheel_ml.demo.monitor_step import monitor_step
from flywheel_ml.demo.release_step import registry_step, serve_step
from flywheel_ml.demo.track_step import track_step
from flywheel_ml.demo.tune_step import tune_step
from flywheel_ml.errors import ConflictError
from flywheel_ml.workspace import Workspace, init_workspace

DEMO_MARKER = ".flywheel-demo"
DEMO_NAME = "Digit recognizer (demo)"


@dataclass(frozen=True, slots=True)
class DemoResult:
    """Where the demo put things: the workspace folder and the files worth opening."""

    root: Path
    look_at: tuple[tuple[str, str], ...] = field(default_factory=tuple)


def run_demo(directory: Path, *, say: Callable[[str], None] = print) -> DemoResult:
    """Create (or re-create) the demo workspace in ``directory`` and run every stage's demo step.

    A folder that holds a workspace not made by the demo is never touched.

    Raises:
        ConflictError: ``directory`` holds something other than an earlier demo.
    """
    directory = directory.resolve()
    _clear_previous(directory)
    say(f"Creating the demo workspace in {directory}")
    with init_workspace(directory, name=DEMO_NAME) as ws:
        (directory / DEMO_MARKER).write_text("made by `flywheel demo`; safe to delete\n")
        look_at = [*_plan_step(ws, say), *data_step(ws, say), *track_step(ws, say)]
        look_at += tune_step(ws, say)
        # label runs once the champion exists: its uncertainty queue is ranked by that model.
        look_at += [*registry_step(ws, say), *label_step(ws, say), *analyze_step(ws, say)]
        look_at += serve_step(ws, say)
        look_at += monitor_step(ws, say)
        look_at += experience_step(ws, say)
        here = f"flywheel -C {directory}"
        look_at += [
            ("readiness (ML Test Score)", f"{here} readiness digits-clf@champion"),
            ("everything in a browser", f"{here} ui   (then open http://127.0.0.1:8080)"),
        ]
        statuses = ws.status()
        done = sum(1 for s in statuses if s.done)
        say(f"Lifecycle status: {done} of {len(statuses)} stages have all their evidence.")
    return DemoResult(root=directory, look_at=tuple(look_at))


def _clear_previous(directory: Path) -> None:
    if not directory.exists():
        return
    if (directory / DEMO_MARKER).is_file():
        shutil.rmtree(directory)
        return
    if (directory / PROJECT_FILE).exists() or any(directory.iterdir()):
        raise ConflictError(
            f"{directory} is not empty and was not made by `flywheel demo`",
            hint="pass --dir with a new or empty folder",
        )


def _plan_step(ws: Workspace, say: Callable[[str], None]) -> list[tuple[str, str]]:
    say("1 plan: writing the project page (objective accuracy, constraints on latency and size)")
    ws.plan.set(
        problem="Recognise handwritten digits 0-9 from 8x8 grey-level scans of postal forms.",
        value="Automatic sorting saves a clerk's keying of every form; each error costs a "
        "manual correction downstream.",
        feasibility="1,797 labelled scans ship with scikit-learn (UCI optdigits test set); "
        "published linear and kernel models reach 95-99% accuracy.",
        expectations="At least 95% accuracy on the sealed test set, answering in under 10 ms.",
        objective="accuracy max",
        add_constraints=["latency_p95_ms < 10", "model_mb < 50", "coverage >= 0.9"],
        add_references=[
            "Alpaydin & Kaynak (1998), Optical Recognition of Handwritten Digits, UCI repository",
        ],
    )
    ws.events.record(stage="plan", kind="page.changed", subject="demo project page")
    return [("project page", f"flywheel -C {ws.root} plan show")]
