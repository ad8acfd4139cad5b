"""The leaderboard (the track stage's ranking over narrow reads, cached until a write) ranks
exactly as judging every fully built run against the page does, on SQLite and PostgreSQL; the
UI's page shows that same ranking, and a write (new run, deletion) is seen at once."""

from __future__ import annotations

from typing import Any

from flywheel_ml.plan import rank_key, satisfies
from flywheel_ml.server.routes.track_leaderboard import leaderboard_data
from flywheel_ml.track.leaderboard import page_metrics


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


def _reference(ws: Any, where: str | None, prefix: str | None) -> list[tuple[str, bool]]:
    """(run id, passed) best first, judged from every run built in full (list order)."""
    page = ws.plan.get()
    judged = []
    for run in ws.track.list_runs(where):
        verdict = satisfies(page, page_metrics(run, page, metric_prefix=prefix))
        passed = verdict.passed and verdict.objective_value is not None
        judged.append((rank_key(page.objective, verdict), -run.started_at.timestamp(), run, passed))
    judged.sort(key=lambda item: (item[0], item[1]))
    return [(run.id, passed) for _key, _at, run, passed in judged]


def test_the_leaderboard_ranks_as_judging_every_run_does(workspace: Any) -> None:
    ws = workspace
    _runs(ws)
    for where, prefix in [("", ""), ("params.kind = passes", ""), ("", "val_")]:
        expected = _reference(ws, where or None, prefix or None)
        entries = ws.track.leaderboard(where or None, metric_prefix=prefix or None)
        assert [(e.run.id, e.passed) for e in entries] == expected
        page = leaderboard_data(ws, where=where, prefix=prefix, limit=100)
        assert [e["run"]["id"] for e in page["entries"]] == [e.run.id for e in entries]
        assert page["total"] == len(expected)
        assert page["passing"] == sum(passed for _id, passed in expected)
        for mine, theirs in zip(page["entries"], entries, strict=True):
            assert mine["objective_value"] == theirs.objective_value
            assert mine["failed_constraints"] == list(theirs.failed_constraints)
            assert mine["unmeasured_constraints"] == list(theirs.unmeasured_constraints)
    top = leaderboard_data(ws, where="", prefix="", limit=3)
    assert [e["run"]["name"] for e in top["entries"]] == [
        "passes-val-only", "passes-best", "tie-b",
    ]  # fmt: skip
    assert top["entries"][0]["objective_value"] == 0.95
    broken = next(e for e in ws.track.leaderboard() if e.run.name == "breaks-latency")
    assert broken.failed_constraints == ("latency_p95_ms < 10 (measured 30)",)
    assert not broken.passed


def test_a_write_is_seen_by_the_next_ranking(workspace: Any) -> None:
    ws = workspace
    _runs(ws)
    first = ws.track.ranking()
    assert ws.track.ranking() == first  # nothing written: the same ranking
    with ws.track.start_run(name="new-best") as run:
        run.log_metrics({"accuracy": 0.999, "latency_p95_ms": 1.0, "model_mb": 1.0})
    after = ws.track.ranking()
    assert after.total == first.total + 1 and after.passing == first.passing + 1
    assert ws.track.leaderboard(limit=1)[0].run.name == "new-best"
    assert leaderboard_data(ws, where="", prefix="", limit=1)["entries"][0]["run"]["id"] == run.id
    ws.track.delete_run(run.id)
    assert ws.track.leaderboard(limit=1)[0].run.name == "passes-val-only"
    assert ws.track.ranking().total == first.total
