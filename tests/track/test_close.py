"""Closing the workspace ends the runs this process left open and commits their points."""

from __future__ import annotations

from pathlib import Path

import flywheel_ml as fw


def test_close_ends_open_runs(tmp_path: Path) -> None:
    ws = fw.init_workspace(tmp_path / "ws", name="t")
    run = ws.track.start_run("left-open")
    run.log_metric("loss", 0.5)
    ws.close()
    with fw.open_workspace(tmp_path / "ws") as again:
        got = again.track.get_run(run.id)
    assert got.status == "finished"
    assert got.metrics == {"loss": 0.5}
