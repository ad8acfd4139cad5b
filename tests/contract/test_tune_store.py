"""The TuneStore contract on SQLite and PostgreSQL: the Optuna journal and study records."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

from flywheel_ml.backends.sql.database import Database
from flywheel_ml.backends.sql.tune_store import SqlTuneStore
from flywheel_ml.tune.entities import StudyInfo


def _info(name: str, minute: int = 0) -> StudyInfo:
    return StudyInfo(
        name=name,
        config={"model": "m", "search": {}},
        metric="accuracy",
        direction="max",
        n_trials=10,
        coarse_trials=5,
        fine_space=None,
        created_by="tester",
        created_at=datetime(2026, 1, 1, 12, minute, tzinfo=UTC),
    )


def test_journal_reads_from_an_offset_in_order(stores: Any) -> None:
    store = stores.store("tune")
    assert store.read_journal(0) == []
    store.append_journal([{"op": 0}, {"op": 1}])
    store.append_journal([{"op": 2, "nested": {"a": [1, 2]}}])
    store.append_journal([])
    assert [e["op"] for e in store.read_journal(0)] == [0, 1, 2]
    assert store.read_journal(2) == [{"op": 2, "nested": {"a": [1, 2]}}]
    assert store.read_journal(3) == []


def test_appends_that_skip_the_disk_wait_read_back_in_order(database: Database) -> None:
    store = SqlTuneStore(database)
    store.append_journal([{"op": 0}], durable=False)
    store.append_journal([{"op": 1}])
    store.append_journal([{"op": 2}, {"op": 3}], durable=False)
    assert [e["op"] for e in store.read_journal(0)] == [0, 1, 2, 3]
    if database.is_sqlite:  # the pooled connection is back at full durability
        with database.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    else:  # SET LOCAL ended with its transaction
        with database.engine.connect() as conn:
            assert conn.exec_driver_sql("SHOW synchronous_commit").scalar() == "on"


def test_only_a_running_trials_records_skip_the_disk_wait() -> None:
    from flywheel_ml.tune.journal import needs_durability

    assert not needs_durability([{"op_code": 4, "study_id": 0}])  # a fresh running trial
    assert not needs_durability([{"op_code": 5}, {"op_code": 7}, {"op_code": 8}])
    assert not needs_durability([{"op_code": 6, "state": 0}])  # WAITING -> RUNNING
    assert needs_durability([{"op_code": 6, "state": 1, "values": [0.9]}])  # COMPLETE
    assert needs_durability([{"op_code": 4, "state": 4}])  # an enqueued (template) trial
    assert needs_durability([{"op_code": 0, "study_name": "s"}])  # a study
    assert needs_durability([{"op_code": 8}, {"op_code": 6, "state": 3}])  # ... then FAIL


def test_concurrent_appends_lose_nothing_and_keep_batches_whole(stores: Any) -> None:
    store = stores.store("tune")
    errors: list[BaseException] = []

    def append(worker: int) -> None:
        try:
            for i in range(15):
                store.append_journal(
                    [{"w": worker, "i": i, "part": 0}, {"w": worker, "i": i, "part": 1}]
                )
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=append, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    entries = store.read_journal(0)
    assert len(entries) == 4 * 15 * 2
    for first, second in zip(entries[::2], entries[1::2], strict=True):
        assert (first["w"], first["i"], first["part"]) == (second["w"], second["i"], 0)
        assert second["part"] == 1
    for worker in range(4):  # each worker's entries keep their order
        mine = [e["i"] for e in entries if e["w"] == worker and e["part"] == 0]
        assert mine == list(range(15))


def test_studies_are_created_once_listed_and_narrowed(stores: Any, as_stored: Any) -> None:
    store = stores.store("tune")
    assert store.get_study("a") is None
    assert store.create_study(_info("a", 0))
    assert not store.create_study(_info("a", 5))
    assert store.create_study(_info("b", 1))
    got = store.get_study("a")
    assert got == as_stored(_info("a", 0))
    assert [s.name for s in store.list_studies()] == ["b", "a"]
    store.set_fine_space("a", {"x": {"kind": "int", "low": 1, "high": 3}})
    narrowed = store.get_study("a")
    assert narrowed is not None
    assert narrowed.fine_space == {"x": {"kind": "int", "low": 1, "high": 3}}
