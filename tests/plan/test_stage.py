"""``PlanStage``: set semantics, validation before writing, check(), history, deliverables."""

from __future__ import annotations

from datetime import UTC

import pytest

from flywheel_ml.errors import InvalidInputError
from flywheel_ml.plan import Constraint, PlanStage
from tests.plan.memory_store import MemoryPlanStore


@pytest.fixture
def stage() -> PlanStage:
    return PlanStage(MemoryPlanStore(), default_name="Digits")


def _complete(stage: PlanStage) -> None:
    stage.set(
        problem="recognise digits",
        value="saves keying",
        feasibility="public data",
        objective="accuracy max",
    )


def test_unsaved_page_is_empty_and_named_after_the_project(stage: PlanStage) -> None:
    page = stage.get()
    assert page.name == "Digits"
    assert page.revision == 0
    assert page.objective is None
    assert stage.history() == []


def test_none_keeps_the_current_value(stage: PlanStage) -> None:
    stage.set(problem="p1", value="v1", objective="accuracy max", add_constraints=["model_mb < 5"])
    page = stage.set(feasibility="f1")
    assert (page.problem, page.value, page.feasibility) == ("p1", "v1", "f1")
    assert str(page.objective) == "accuracy max"
    assert page.constraints == (Constraint("model_mb", "<", 5.0),)
    assert page.name == "Digits"
    assert page.revision == 2


def test_empty_string_clears_a_text(stage: PlanStage) -> None:
    stage.set(expectations="95%")
    assert stage.set(expectations="").expectations == ""


def test_add_replaces_a_constraint_on_the_same_metric_and_operator(stage: PlanStage) -> None:
    stage.set(add_constraints=["latency_p95_ms < 10", "latency_p95_ms > 0", "model_mb < 50"])
    page = stage.set(add_constraints=["latency_p95_ms < 20"])
    assert [str(c) for c in page.constraints] == [
        "latency_p95_ms > 0",
        "model_mb < 50",
        "latency_p95_ms < 20",
    ]


def test_adding_the_same_constraint_twice_in_one_call_keeps_one(stage: PlanStage) -> None:
    page = stage.set(add_constraints=["model_mb < 50", "model_mb < 40"])
    assert [str(c) for c in page.constraints] == ["model_mb < 40"]


def test_remove_by_metric_or_by_full_text(stage: PlanStage) -> None:
    stage.set(add_constraints=["latency_p95_ms < 10", "latency_p95_ms > 0", "model_mb < 50"])
    page = stage.set(remove_constraints=["latency_p95_ms"])
    assert [str(c) for c in page.constraints] == ["model_mb < 50"]
    page = stage.set(remove_constraints=[" model_mb < 50 "])
    assert page.constraints == ()


def test_remove_of_an_absent_constraint_is_harmless(stage: PlanStage) -> None:
    stage.set(add_constraints=["model_mb < 50"])
    assert [str(c) for c in stage.set(remove_constraints=["coverage"]).constraints] == [
        "model_mb < 50"
    ]


def test_constraints_replaces_the_whole_list(stage: PlanStage) -> None:
    stage.set(add_constraints=["model_mb < 50", "coverage >= 0.9"])
    page = stage.set(constraints=["latency_p50_ms < 3"])
    assert [str(c) for c in page.constraints] == ["latency_p50_ms < 3"]
    assert stage.set(constraints=[]).constraints == ()


def test_references_are_cleaned_and_deduplicated_in_order(stage: PlanStage) -> None:
    stage.set(add_references=["  paper A ", "", "paper B"])
    page = stage.set(add_references=["paper A", "paper C", "paper C"])
    assert page.references == ("paper A", "paper B", "paper C")
    page = stage.set(references=["only this", "   "])
    assert page.references == ("only this",)


@pytest.mark.parametrize("field", ["name", "problem", "value", "feasibility", "expectations"])
def test_too_long_text_is_refused_and_nothing_is_written(stage: PlanStage, field: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        stage.set(**{field: "x" * 20_001})  # type: ignore[arg-type]
    assert field in info.value.message
    assert "20000" in info.value.hint
    assert stage.history() == []
    assert stage.set(**{field: "x" * 20_000}).revision == 1  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "bad",
    [
        {"objective": "acuracy max"},
        {"add_constraints": ["model_mb < 50", "latency < 3"]},
        {"constraints": ["model_mb <"]},
        {"add_constraints": ["model_mb < nan"]},
    ],
)
def test_bad_input_changes_nothing(stage: PlanStage, bad: dict[str, object]) -> None:
    stage.set(problem="kept")
    with pytest.raises(InvalidInputError):
        stage.set(problem="lost", **bad)  # type: ignore[arg-type]
    assert stage.get().problem == "kept"
    assert len(stage.history()) == 1


def test_check_lists_missing_parts_and_warnings(stage: PlanStage) -> None:
    result = stage.check()
    assert not result.complete
    assert result.missing == ("problem", "value", "feasibility", "objective")
    stage.set(problem="p", value="   ")
    assert stage.check().missing == ("value", "feasibility", "objective")


def test_check_complete_with_advisory_warnings(stage: PlanStage) -> None:
    _complete(stage)
    result = stage.check()
    assert result.complete
    assert result.missing == ()
    assert [w.split(":")[0] for w in result.warnings] == [
        "expectations",
        "constraints",
        "references",
    ]
    stage.set(expectations="e", add_constraints=["model_mb < 1"], add_references=["r"])
    assert stage.check().warnings == ()


def test_history_keeps_every_change_with_author_and_time(stage: PlanStage) -> None:
    stage.set(problem="one", actor="alice")
    stage.set(objective="accuracy max", actor="bob")
    history = stage.history()
    assert [r.revision for r in history] == [1, 2]
    assert [r.changed_by for r in history] == ["alice", "bob"]
    assert all(r.changed_at.tzinfo is not None for r in history)
    assert history[0].changed_at.utcoffset() == UTC.utcoffset(None)
    assert history[0].changed_at <= history[1].changed_at
    assert history[0].page.problem == "one" and history[0].page.objective is None
    assert "problem" in history[0].summary
    assert history[1].summary == "changed objective"


def test_default_actor_is_the_current_user(stage: PlanStage) -> None:
    assert stage.set(problem="p").updated_by == "tester"


def test_satisfies_uses_the_current_page(stage: PlanStage) -> None:
    stage.set(objective="accuracy max", add_constraints=["model_mb < 50"])
    assert stage.satisfies({"accuracy": 0.9, "model_mb": 10}).passed
    assert not stage.satisfies({"accuracy": 0.9, "model_mb": 60}).passed


def test_deliverables_follow_the_page(stage: PlanStage) -> None:
    (first,) = stage.deliverables()
    assert not first.done and first.next_step.startswith("flywheel plan set")
    stage.set(problem="p")
    (partial,) = stage.deliverables()
    assert not partial.done
    assert "revision 1" in partial.evidence
    assert "--value" in partial.next_step and "--objective" in partial.next_step
    _complete(stage)
    (done,) = stage.deliverables()
    assert done.done and "revision 2" in done.evidence and "accuracy max" in done.evidence


def test_asking_for_no_change_is_refused(stage: PlanStage) -> None:
    with pytest.raises(InvalidInputError) as info:
        stage.set()
    assert "nothing to change" in info.value.message
    with pytest.raises(InvalidInputError):
        stage.set(add_constraints=[], actor="x")
    assert stage.history() == []
    assert stage.set(constraints=[]).revision == 1  # an explicit empty list is a change
