"""The demo's analyze and experience steps on a project with a registered champion."""

from __future__ import annotations

from pathlib import Path

from flywheel_ml.demo.analyze_step import analyze_step, experience_step
from tests.analyze.conftest import Analyzed


def test_demo_steps_write_both_reports_without_reading_test_labels(analyzed: Analyzed) -> None:
    ws = analyzed.ws
    ws.registry.set_alias("digits-clf", "champion", 1, reason="demo", override=True)
    reads = len(ws.data.audit())
    said: list[str] = []
    look_at = dict(analyze_step(ws, said.append))
    look_at |= dict(experience_step(ws, said.append))
    assert Path(look_at["error analysis"]).name == "error-analysis-digits-clf-v1.md"
    assert Path(look_at["experience report"]).is_file()
    assert len(ws.data.audit()) == reads  # val only: no sealed read
    assert said[0].startswith("6 analyze: where is digits-clf@v1 wrong")
    assert any("failure clusters" in line for line in said)
    assert len(ws.analyze.decisions()) == 1
    text = Path(look_at["error analysis"]).read_text()
    assert "faint-centre" in text
