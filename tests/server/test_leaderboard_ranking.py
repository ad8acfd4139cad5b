"""The UI's leaderboard (narrow reads, ranked without building every run) ranks exactly as
``ws.track.leaderboard`` does, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from flywheel_ml.server.routes.track import leaderboard_data


def _runs(ws: Any) -> None:
    ws.plan.set(objective="accuracy max", add_constraints=["latency_p95_ms < 10", "model_mb <= 5"])
    specs = [
        ("passes-best", {"accuracy": 0.91, "latency_p95_ms": 3.0, "model_mb": 1.0}),
        ("passes-val-only", {"val_accuracy": 0.95, "latency_p95_ms": 9.0, "model_mb": 5.0}),
        ("breaks-latency", {"accuracy": 0.99, "latency_p95_ms": 30.0, "model_mb": 1.0}),
        ("unmeasured-size", {"accuracy": 0.97, "latency_p95_ms": 1.0}),
        (
            "plain-wins-over-val",
            {"accuracy": 0.5, "val_accuracy": 0.99, "latency_p95_ms": 1.0, "model_mb": 1.0},
        ),
        ("no-objective", {"latency_p95_ms": 1.0, "model_mb": 1.0}),
        ("tie-a", {"accuracy": 0.8, "latency_p95_ms": 1.0, "model_mb": 1.0}),
        ("tie-b", {"accuracy": 0.8, "latency_p95_ms": 1.0, "model_mb": 1.0}),
        ("nothing", {}),
    ]
    for name, metrics in specs:
        with ws.track.start_run(name=name, params={"kind": name.split("-")[0]}) as run:
            if metrics:
                run.log_metrics(metrics)


def test_fast_leaderboard_matches_the_track_stage(workspace: Any) -> None:
    ws = workspace
    _runs(ws)
    for where, prefix in [("", ""), ("params.kind = passes", ""), ("", "val_")]:
        fast = leaderboard_data(ws, where=where, prefix=prefix, limit=100)
        slow = ws.track.leaderboard(where or None, metric_prefix=prefix or None)
        assert [e["run"]["id"] for e in fast["entries"]] == [e.run.id for e in slow]
        assert fast["total"] == len(slow)
        assert fast["passing"] == sum(e.passed for e in slow)
        for mine, theirs in zip(fast["entries"], slow, strict=True):
            assert mine["passed"] == theirs.passed
            assert mine["objective_value"] == theirs.objective_value
            assert mine["failed_constraints"] == list(theirs.failed_constraints)
            assert mine["unmeasured_constraints"] == list(theirs.unmeasured_constraints)
    top = leaderboard_data(ws, where="", prefix="", limit=3)
    assert [e["run"]["name"] for e in top["entries"]] == [
        "passes-val-only", "passes-best", "tie-b",
    ]  # fmt: skip
