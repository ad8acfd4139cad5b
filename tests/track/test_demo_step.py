"""The demo's track step on its own (without the data step it uses scikit-learn's digits)."""

from __future__ import annotations

from typing import Any

from flywheel_ml.demo.track_step import track_step


def test_track_step_trains_ranks_and_plots(sqlite_workspace: Any) -> None:
    ws = sqlite_workspace
    ws.plan.set(objective="accuracy max", add_constraints=["model_mb < 50"])
    said: list[str] = []
    look_at = dict(track_step(ws, said.append))
    runs = ws.track.list_runs(order_by="-metrics.val_accuracy")
    assert len(runs) == 3 and all(r.status == "finished" for r in runs)
    assert all(len(ws.track.metric_series(r.id, "loss")) >= 5 for r in runs)
    assert all(r.lineage.seed == 13 for r in runs)
    board = ws.track.leaderboard()
    assert board[0].run.id == runs[0].id and board[0].passed
    assert (ws.root / "reports" / "loss.html").is_file()
    assert "leaderboard" in look_at and any("#1" in line for line in said)
