"""Contract of :class:`flywheel_ml.label.LabelStore`, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from flywheel_ml.errors import ConflictError, NotFoundError
from flywheel_ml.label import (
    Annotation,
    Guide,
    GuideClass,
    LabelFunction,
    LabelRecord,
    Queue,
    Task,
)

T0 = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)


@pytest.fixture
def store(stores: Any) -> Any:
    return stores.store("label")


def _annotation(n: int, **fields: object) -> Annotation:
    base = dict(
        id=f"{n:032x}",
        dataset="digits",
        item=f"d{n}",
        label=n % 3,
        annotator="ann1",
        source="human",
        created_at=T0 + timedelta(seconds=n),
    )
    return Annotation(**{**base, **fields})  # type: ignore[arg-type]


def _queue(name: str = "q") -> Queue:
    return Queue(
        name,
        "digits",
        "digits@v2",
        "uncertainty",
        "clf@champion",
        ("a", "b"),
        0.2,
        T0,
        "lead",
        "first round",
    )


def test_guides_are_numbered_and_round_trip(store: Any) -> None:
    classes = (GuideClass("7", "a seven", ("d1",), ("d2",)), GuideClass("1"))
    first = store.add_guide(
        lambda n: Guide(n, classes, "class", ("flagged 1",), "notes", "ann", T0)
    )
    second = store.add_guide(lambda n: Guide(n, classes[:1], "multi", (), "", "ann", T0))
    assert (first.version, second.version) == (1, 2)
    assert store.list_guides() == [first, second]


def test_guide_numbers_never_repeat_under_concurrent_writers(store: Any) -> None:
    def add() -> None:
        store.add_guide(lambda n: Guide(n, (), "class", (), "", "w", T0))

    threads = [threading.Thread(target=add) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [g.version for g in store.list_guides()] == [1, 2, 3, 4, 5, 6]


def test_annotations_round_trip_with_every_label_kind(store: Any) -> None:
    spans = [{"start": 1, "end": 3, "labels": ["x"]}]
    made = [
        _annotation(
            1,
            label="cat",
            duration_s=1.5,
            guide_version=2,
            hard=True,
            note="blurry",
            queue="q",
            confidence=0.7,
            provenance="from production, request id r1",
        ),
        _annotation(2, label=["a", "b"], source="lf"),
        _annotation(3, label=spans, dataset="other"),
        _annotation(4, label=None, hard=True),
    ]
    store.add_annotations(made)
    assert store.list_annotations() == made
    assert store.list_annotations(dataset="other") == [made[2]]
    assert store.list_annotations(queue="q") == [made[0]]
    assert store.list_annotations(hard=True) == [made[0], made[3]]


def test_a_failed_batch_of_annotations_stores_none(store: Any) -> None:
    store.add_annotations([_annotation(1)])
    with pytest.raises(Exception):  # noqa: B017 - the driver's integrity error
        store.add_annotations([_annotation(2), _annotation(1)])
    assert [a.id for a in store.list_annotations()] == [f"{1:032x}"]


def test_queues_tasks_and_durable_submits(store: Any, as_stored: Any) -> None:
    tasks = [
        Task("q", "d1", "a", 0, score=0.9, prelabel="7", confidence=0.6, provenance="uncertainty"),
        Task("q", "d1", "b", 0),
        Task("q", "d2", "b", 1, data={"px0": 1.0}),
    ]
    store.create_queue(_queue(), tasks)
    with pytest.raises(ConflictError):
        store.create_queue(_queue(), [])
    assert store.get_queue("q") == as_stored(_queue()) and store.get_queue("nope") is None
    assert store.list_queues() == [as_stored(_queue())]
    assert store.list_tasks("q") == tasks
    assert store.list_tasks("q", annotator="b", limit=1) == [tasks[1]]
    answer = _annotation(9, item="d1", annotator="a", queue="q")
    store.finish_task("q", "d1", "a", status="done", at=T0, annotation=answer)
    done = store.list_tasks("q", status="done")
    assert [(t.item, t.annotator, t.updated_at) for t in done] == [("d1", "a", T0)]
    assert store.list_annotations(queue="q") == [answer]
    with pytest.raises(NotFoundError):
        store.finish_task("q", "d9", "a", status="done", at=T0, annotation=_annotation(10))
    assert len(store.list_annotations()) == 1  # the failed submit stored nothing
    added = store.add_tasks("q", [Task("q", "d2", "b", 0), Task("q", "d3", "b", 0)])
    assert added == 1
    assert store.list_tasks("q")[-1].position == 2


def test_functions_and_records(store: Any, as_stored: Any) -> None:
    f = LabelFunction("bar", "mylfs:bar", T0, "ann", "a bar")
    store.put_function(f)
    store.put_function(LabelFunction("bar", "mylfs:bar2", T0, "ann"))
    assert [x.target for x in store.list_functions()] == ["mylfs:bar2"]
    assert store.delete_function("bar") and not store.delete_function("bar")
    assert store.latest_record("agreement") is None
    first = LabelRecord(f"{1:032x}", "agreement", "digits", {"alpha_nominal": 0.8}, "ann", T0)
    second = LabelRecord(f"{2:032x}", "agreement", "other", {"alpha_nominal": 0.5}, "ann", T0)
    store.add_record(first)
    store.add_record(second)
    assert store.latest_record("agreement") == as_stored(second)
    assert store.latest_record("agreement", dataset="digits") == as_stored(first)
    assert store.latest_record("suspects") is None
