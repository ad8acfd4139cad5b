"""The serve store contract (:class:`flywheel_ml.serve.DeploymentStore`) on both backends."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import pytest

from flywheel_ml.errors import ConflictError
from flywheel_ml.serve import moves

AT = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def test_moves_are_recorded_with_state_actor_time_and_reason(stores: Any, written_by: Any) -> None:
    store = stores.store("serve")
    assert store.get_deployment("m") is None
    assert store.last_seq() == 0
    first = store.apply_move(
        "m", lambda s: moves.deploy(s, "m@v1"), kind="deploy", actor="ann", at=AT, reason="first"
    )
    second = store.apply_move(
        "m",
        lambda s: moves.canary(s, "m@v2", percent=10),
        kind="canary",
        actor="bob",
        at=AT,
    )
    assert second.seq > first.seq == store.list_moves("m")[0].seq
    assert store.last_seq() == second.seq
    state = store.get_deployment("m")
    assert state is not None
    assert (state.champion, state.canary, state.canary_percent) == ("m@v1", "m@v2", 10.0)
    assert (state.revision, state.updated_by, state.updated_at) == (2, written_by("bob"), AT)
    history = store.list_moves("m")
    assert [(h.kind, h.actor, h.reason, h.state.revision) for h in history] == [
        ("deploy", written_by("ann"), "first", 1),
        ("canary", written_by("bob"), "", 2),
    ]
    assert [d.model for d in store.list_deployments()] == ["m"]


def test_a_refused_move_leaves_nothing_behind(stores: Any) -> None:
    store = stores.store("serve")
    store.apply_move("m", lambda s: moves.deploy(s, "m@v1"), kind="deploy", actor="a", at=AT)
    with pytest.raises(ConflictError):
        store.apply_move("m", lambda s: moves.rollback(s, "m"), kind="rollback", actor="a", at=AT)
    assert len(store.list_moves("m")) == 1
    state = store.get_deployment("m")
    assert state is not None and state.revision == 1


def test_concurrent_moves_serialise_and_seq_grows(stores: Any) -> None:
    store = stores.store("serve")
    store.apply_move("m", lambda s: moves.deploy(s, "m@v0"), kind="deploy", actor="a", at=AT)
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            store.apply_move(
                "m", lambda s: moves.deploy(s, f"m@v{i + 1}"), kind="deploy", actor="a", at=AT
            )
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    history = store.list_moves("m")
    assert [h.state.revision for h in history] == list(range(1, 8))
    assert [h.seq for h in history] == sorted(h.seq for h in history)
    final = store.get_deployment("m")
    assert final is not None and len(final.earlier_champions) == 6


def test_gateways_register_and_unregister(stores: Any) -> None:
    store = stores.store("serve")
    record = store.add_gateway("http://127.0.0.1:8000", at=AT)
    assert [(g.id, g.url, g.started_at) for g in store.list_gateways()] == [
        (record.id, "http://127.0.0.1:8000", AT)
    ]
    store.remove_gateway(record.id)
    store.remove_gateway("unknown")
    assert store.list_gateways() == []
