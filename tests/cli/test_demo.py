"""``flywheel demo``: builds the demo workspace (only the plan step is asserted here; later
stages add their own steps and tests)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess

import pytest

from flywheel_ml.workspace import open_workspace

pytest.importorskip("sklearn")

Cli = Callable[..., CompletedProcess[str]]


def test_demo_builds_the_workspace(tmp_path: Path, cli: Cli) -> None:
    target = tmp_path / "demo"
    result = cli("demo", "--dir", str(target), cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr
    assert str(target) in result.stdout
    assert (target / "flywheel.toml").is_file()
    with open_workspace(target) as ws:
        page = ws.plan.get()
        assert ws.plan.check().complete
        assert str(page.objective) == "accuracy max"
        assert page.constraints and page.references
        assert any(e.stage == "plan" for e in ws.events.recent(limit=1000))


def test_demo_refuses_a_foreign_folder(tmp_path: Path, cli: Cli) -> None:
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("precious")
    result = cli("demo", "--dir", str(foreign), cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert sorted(p.name for p in foreign.iterdir()) == ["thesis.tex"]
