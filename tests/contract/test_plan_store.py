"""Contract of :class:`flywheel_ml.plan.PlanStore` and the event log, on SQLite and PostgreSQL
(the event log also on the stdlib ``sqlite3`` driver of the CLI's fast path)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from flywheel_ml.backends.sql.database import Database
from flywheel_ml.backends.sql.event_store import SqlEventLog
from flywheel_ml.backends.sql.plan_store import SqlPlanStore
from flywheel_ml.plan import Constraint, Objective, PlanStage, ProjectPage
from tests.contract.conftest import WITH_STDLIB

T0 = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)


@pytest.fixture
def store(stores: Any) -> Any:
    return stores.store("plan")


def _set(**fields: object):  # type: ignore[no-untyped-def]
    def change(page: ProjectPage) -> tuple[ProjectPage, str]:
        return dataclasses.replace(page, **fields), "changed " + ", ".join(fields)  # type: ignore[arg-type]

    return change


def test_empty_store(store: Any) -> None:
    assert store.latest_page() is None
    assert store.list_revisions() == []


def test_revisions_are_numbered_from_one(store: Any) -> None:
    first = store.update_page(_set(problem="a"), actor="alice", at=T0)
    second = store.update_page(_set(value="b"), actor="bob", at=T0 + timedelta(minutes=1))
    assert (first.revision, second.revision) == (1, 2)
    assert [r.revision for r in store.list_revisions()] == [1, 2]
    latest = store.latest_page()
    assert latest == second
    assert (latest.problem, latest.value) == ("a", "b")


def test_change_sees_the_latest_page(store: Any) -> None:
    seen: list[ProjectPage] = []

    def change(page: ProjectPage) -> tuple[ProjectPage, str]:
        seen.append(page)
        return dataclasses.replace(page, problem=page.problem + "x"), "x"

    store.update_page(change, actor="a", at=T0)
    store.update_page(change, actor="a", at=T0)
    assert seen[0].revision == 0 and seen[0] == ProjectPage()
    assert seen[1].revision == 1 and seen[1].problem == "x"
    assert store.latest_page().problem == "xx"  # type: ignore[union-attr]


def test_every_field_round_trips(store: Any, written_by: Any) -> None:
    page = ProjectPage(
        name="Zahlen — Ünïcode ✓",
        problem="line 1\nline 2",
        value="v",
        feasibility="f",
        expectations="e",
        objective=Objective("log_loss", "min"),
        constraints=(
            Constraint("latency_p95_ms", "<", 9.5),
            Constraint("model_mb", "<=", 50.0),
            Constraint("coverage", ">=", 0.9),
        ),
        references=("https://example.org/paper", "prior work B"),
    )
    saved = store.update_page(lambda _old: (page, "all"), actor="ana", at=T0)
    who = written_by("ana")
    expected = dataclasses.replace(page, revision=1, updated_at=T0, updated_by=who)
    assert saved == expected
    assert store.latest_page() == expected
    (revision,) = store.list_revisions()
    assert revision.page == expected
    assert (revision.summary, revision.changed_by, revision.changed_at) == ("all", who, T0)


def test_history_keeps_each_version_of_the_page(store: Any, written_by: Any) -> None:
    for n in range(5):
        store.update_page(_set(problem=f"p{n}"), actor=f"u{n}", at=T0 + timedelta(seconds=n))
    history = store.list_revisions()
    assert [r.page.problem for r in history] == [f"p{n}" for n in range(5)]
    assert [r.changed_by for r in history] == [written_by(f"u{n}") for n in range(5)]
    assert [r.summary for r in history] == ["changed problem"] * 5


def test_datetimes_come_back_timezone_aware_utc(store: Any) -> None:
    berlin = timezone(timedelta(hours=2))
    at = datetime(2026, 6, 1, 12, 0, tzinfo=berlin)
    saved = store.update_page(_set(problem="tz"), actor="a", at=at)
    for value in (
        saved.updated_at,
        store.latest_page().updated_at,  # type: ignore[union-attr]
        store.list_revisions()[0].changed_at,
    ):
        assert value is not None
        assert value.utcoffset() == timedelta(0)
        assert value == at  # the same instant, not the same wall-clock time


def test_a_failing_change_writes_nothing(store: Any) -> None:
    store.update_page(_set(problem="kept"), actor="a", at=T0)

    def boom(page: ProjectPage) -> tuple[ProjectPage, str]:
        raise ValueError("refused")

    with pytest.raises(ValueError, match="refused"):
        store.update_page(boom, actor="a", at=T0)
    assert [r.revision for r in store.list_revisions()] == [1]
    assert store.latest_page().problem == "kept"  # type: ignore[union-attr]


def test_stage_over_the_store(stores: Any, written_by: Any) -> None:
    stage = PlanStage(stores.store("plan"), default_name="Named")
    stage.set(problem="p", objective="accuracy", add_constraints=["model_mb < 3"], actor="x")
    stage.set(add_constraints=["model_mb < 2"], add_references=["r"], actor="y")
    page = stage.get()
    assert page.name == "Named"
    assert [str(c) for c in page.constraints] == ["model_mb < 2"]
    assert [(r.revision, r.changed_by) for r in stage.history()] == [
        (1, written_by("x")),
        (2, written_by("y")),
    ]


# --- the event log ---------------------------------------------------------------------------


@pytest.mark.parametrize("stores", WITH_STDLIB, indirect=True)
def test_event_round_trip(stores: Any, written_by: Any) -> None:
    log = stores.store("events")
    event = log.record(
        stage="plan", kind="page.changed", subject="revision 1", detail={"n": 1, "tags": ["a"]}
    )
    assert event.actor == written_by("tester")
    assert event.at.utcoffset() == timedelta(0)
    (back,) = log.recent()
    assert back == event


@pytest.mark.parametrize("stores", WITH_STDLIB, indirect=True)
def test_recent_is_newest_first_with_limit_and_stage_filter(stores: Any, written_by: Any) -> None:
    log = stores.store("events")
    for n in range(6):
        log.record(stage="plan" if n % 2 else "data", kind="k", subject=f"s{n}", actor="bot")
    assert [e.subject for e in log.recent()] == [f"s{n}" for n in reversed(range(6))]
    assert [e.subject for e in log.recent(limit=2)] == ["s5", "s4"]
    assert [e.subject for e in log.recent(stage="plan")] == ["s5", "s3", "s1"]
    assert {e.actor for e in log.recent()} == {written_by("bot")}
    assert log.recent(stage="monitor") == []


def test_writes_bump_the_change_counter_on_sqlite(database: Database) -> None:
    if not database.is_sqlite:
        pytest.skip("the change counter exists for the SQLite status cache only")

    def changes() -> int:
        with database.read() as conn:
            return int(
                conn.exec_driver_sql(
                    "SELECT value FROM workspace_meta WHERE key = 'changes'"
                ).scalar_one()
            )

    before = changes()
    SqlEventLog(database).record(stage="plan", kind="k", subject="s")
    SqlPlanStore(database).update_page(_set(problem="p"), actor="a", at=T0)
    assert changes() == before + 2
