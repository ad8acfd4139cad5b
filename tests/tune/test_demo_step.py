"""The demo's tune step on the digits: baselines, a curve, a diagnosis, a search, plots."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any


def test_tune_step_runs_on_the_demo_digits(sqlite_workspace: Any) -> None:
    from flywheel_ml.demo.data_step import data_step
    from flywheel_ml.demo.tune_step import tune_step

    ws = sqlite_workspace
    data_step(ws, lambda _line: None)
    lines: list[str] = []
    started = time.perf_counter()
    look_at = tune_step(ws, lines.append)
    print(f"tune step took {time.perf_counter() - started:.1f}s")
    text = "\n".join(lines)
    assert "majority" in text and "simulated" in text and "search: 8 trials" in text
    assert "diagnosis" in text
    assert Path(dict(look_at)["learning curve"]).is_file()
    assert Path(dict(look_at)["search history"]).is_file()
    assert len(ws.tune.list_studies()) == 1
