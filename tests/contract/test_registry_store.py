"""Contract of :class:`flywheel_ml.registry.RegistryStore`, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from flywheel_ml.core.digests import digest_bytes
from flywheel_ml.registry import (
    BehaviourCase,
    ConstraintResult,
    Evaluation,
    GateResult,
    ModelVersion,
)

T0 = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)
DIGEST = digest_bytes(b"model")


@pytest.fixture
def store(stores: Any) -> Any:
    return stores.store("registry")


def _maker(name: str = "digits-clf", **fields: object):  # type: ignore[no-untyped-def]
    def make(number: int) -> ModelVersion:
        base = ModelVersion(
            name=name,
            version=number,
            run_id="a" * 32,
            dataset="digits@v2",
            git_commit="c" * 40,
            artifact_digest=DIGEST,
            artifact_format="skops",
            artifact_size=1234,
            estimator="sklearn.linear_model.LogisticRegression",
            feature_names=("px0", "px1"),
            created_by="ann",
            created_at=T0,
            trusted=("x.Y",),
            description="first",
        )
        return dataclasses.replace(base, **fields)  # type: ignore[arg-type]

    return make


def _evaluation(version: int, *, passed: bool = True, at: datetime = T0) -> Evaluation:
    return Evaluation(
        id=f"{version:032x}" if passed else f"{version + 100:032x}",
        name="digits-clf",
        version=version,
        dataset="digits@v2",
        purpose="evaluate digits-clf@v1: test",
        rows=58,
        metrics={"accuracy": 0.97, "latency_p95_ms": 0.4},
        slices={"dark": {"accuracy": 0.9, "rows": 10.0}},
        test_sets={"hard@v1": {"accuracy": 0.8, "rows": 5.0}},
        constraints=(
            ConstraintResult("model_mb < 50", "model_mb", 0.01 if passed else None, passed),
        ),
        gates=(GateResult("no_regression", "all", True, "no champion", None, None),),
        objective="accuracy",
        objective_value=0.97,
        confidence=0.5,
        actor="ann",
        at=at,
    )


def test_versions_are_numbered_per_name_and_round_trip(store: Any) -> None:
    first = store.add_version(_maker())
    second = store.add_version(_maker())
    other = store.add_version(_maker("other"))
    assert (first.version, second.version, other.version) == (1, 2, 1)
    assert store.get_version("digits-clf", 1) == first
    assert store.get_version("digits-clf", 3) is None
    assert [v.ref for v in store.list_versions()] == ["digits-clf@v1", "digits-clf@v2", "other@v1"]
    assert [v.ref for v in store.list_versions("other")] == ["other@v1"]
    loaded = store.get_version("digits-clf", 2)
    assert loaded is not None and loaded.created_at == T0 and loaded.trusted == ("x.Y",)


def test_concurrent_registrations_get_distinct_numbers(store: Any) -> None:
    numbers: list[int] = []
    lock = threading.Lock()

    def register() -> None:
        version = store.add_version(_maker())
        with lock:
            numbers.append(version.version)

    threads = [threading.Thread(target=register) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(numbers) == [1, 2, 3, 4, 5, 6]


def test_delete_keeps_the_row(store: Any) -> None:
    store.add_version(_maker())
    store.set_deleted("digits-clf", 1, at=T0, actor="bob")
    version = store.get_version("digits-clf", 1)
    assert version is not None and version.deleted


def test_alias_moves_and_history(store: Any, written_by: Any) -> None:
    store.add_version(_maker())
    store.add_version(_maker())
    first = store.move_alias(
        "digits-clf", "champion", 1, actor="ann", at=T0, reason="first", override=False
    )
    second = store.move_alias(
        "digits-clf", "champion", 2, actor="bob", at=T0 + timedelta(1), reason="", override=True
    )
    store.move_alias("digits-clf", "candidate", 2, actor="bob", at=T0, reason="", override=False)
    removed = store.move_alias(
        "digits-clf", "candidate", None, actor="bob", at=T0, reason="done", override=False
    )
    assert (first.from_version, first.to_version) == (None, 1)
    assert (second.from_version, second.to_version, second.override) == (1, 2, True)
    assert (removed.from_version, removed.to_version) == (2, None)
    assert store.aliases("digits-clf") == {"champion": 2}
    history = store.alias_history("digits-clf")
    assert [(m.alias, m.from_version, m.to_version, m.actor) for m in history] == [
        ("champion", None, 1, written_by("ann")),
        ("champion", 1, 2, written_by("bob")),
        ("candidate", None, 2, written_by("bob")),
        ("candidate", 2, None, written_by("bob")),
    ]
    assert history[0].at == T0 and history[0].reason == "first"
    assert store.alias_history("other") == []


def test_evaluations_round_trip_oldest_first(store: Any, as_stored: Any) -> None:
    later = _evaluation(1, passed=False, at=T0 + timedelta(hours=1))
    earlier = _evaluation(1, at=T0)
    store.add_evaluation(later)
    store.add_evaluation(earlier)
    store.add_evaluation(_evaluation(2))
    found = store.list_evaluations("digits-clf", 1)
    assert found == as_stored([earlier, later])
    assert not found[1].passed and found[1].failed == ("model_mb < 50",)
    assert len(store.list_evaluations("digits-clf")) == 3
    assert len(store.list_evaluations()) == 3
    assert store.list_evaluations("other") == []


def test_cases_are_replaced_by_name(store: Any) -> None:
    case = BehaviourCase(
        model="digits-clf",
        name="blank",
        rows_digest=DIGEST,
        rows=3,
        expect="reject",
        min_score=0.9,
        description="blank scans",
        created_by="ann",
        created_at=T0,
    )
    store.put_case(case)
    store.put_case(dataclasses.replace(case, min_score=1.0))
    store.put_case(dataclasses.replace(case, name="zeros", expect="0"))
    cases = store.list_cases("digits-clf")
    assert [(c.name, c.min_score) for c in cases] == [("blank", 1.0), ("zeros", 0.9)]
    assert cases[0].created_at == T0
    assert store.list_cases("other") == []
