"""The monitor store contract (:class:`flywheel_ml.monitor.MonitorStore`) on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flywheel_ml.core.digests import Digest
from flywheel_ml.monitor.entities import (
    Alert,
    DelayedLabel,
    Rule,
    RuleEvaluation,
    StoredBinning,
)

AT = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def _rule(rule_id: str, expression: str, *, at: datetime = AT) -> Rule:
    return Rule(rule_id, expression, None, ("log", "webhook:http://127.0.0.1:9/x"), "ann", at)


def test_rules_are_stored_found_by_prefix_and_soft_deleted(stores: Any) -> None:
    store = stores.store("monitor")
    store.add_rule(_rule("r1aaaaaaaa", "psi(feature=*) > 0.2"))
    store.add_rule(_rule("r2bbbbbbbb", "age(champion) > 30d", at=AT + timedelta(seconds=1)))
    assert [r.id for r in store.list_rules()] == ["r1aaaaaaaa", "r2bbbbbbbb"]
    found = store.get_rule("r2bbbb")
    assert found is not None and found.notify == ("log", "webhook:http://127.0.0.1:9/x")
    assert found.created_at == AT + timedelta(seconds=1)
    assert store.get_rule("r") is None  # too short a prefix
    assert store.delete_rule("r1aaaaaaaa") is True
    assert store.delete_rule("r1aaaaaaaa") is False
    assert [r.id for r in store.list_rules()] == ["r2bbbbbbbb"]
    assert store.get_rule("r1aaaaaaaa") is None


def test_a_check_is_recorded_whole_and_listed_newest_first(stores: Any) -> None:
    store = stores.store("monitor")
    store.add_rule(_rule("r1", "drifted > 0"))
    first = RuleEvaluation("e1", "r1", "m", AT, 2.0, True, {"drifted": ["a", "b"]})
    second = RuleEvaluation("e2", "r1", "m", AT + timedelta(hours=1), None, False, {})
    alert = Alert("a1", "r1", "e1", "m", AT, "m: drifted = 2 > 0", {"log": "ok"})
    store.record_check([first], [alert])
    store.record_check([second], [])
    store.record_check([], [])
    evaluations = store.list_evaluations()
    assert [e.id for e in evaluations] == ["e2", "e1"]
    assert evaluations[1].detail == {"drifted": ["a", "b"]} and evaluations[1].fired
    assert evaluations[0].value is None
    assert [e.id for e in store.list_evaluations(rule_id="nope")] == []
    alerts = store.list_alerts()
    assert [(a.id, a.deliveries, a.at) for a in alerts] == [("a1", {"log": "ok"}, AT)]
    assert store.list_alerts(model="other") == []


def test_binnings_keep_the_first_per_key(stores: Any) -> None:
    store = stores.store("monitor")
    assert store.get_binning("blake3:ref", "k") is None
    store.put_binning(StoredBinning("blake3:ref", "k", Digest("blake3:one"), AT))
    store.put_binning(StoredBinning("blake3:ref", "k", Digest("blake3:two"), AT))
    got = store.get_binning("blake3:ref", "k")
    assert got is not None and got.object_digest == "blake3:one" and got.created_at == AT


def test_delayed_labels_replace_per_request_row(stores: Any) -> None:
    store = stores.store("monitor")
    assert store.add_labels([]) == 0
    n = store.add_labels([DelayedLabel("q1", 0, "3", AT), DelayedLabel("q1", 1, "4", AT),
                          DelayedLabel("q2", 0, "5", AT)])  # fmt: skip
    assert n == 3
    assert store.add_labels([DelayedLabel("q1", 0, "7", AT)]) == 1
    got = {(x.request_id, x.row): x.label for x in store.get_labels(["q1", "q2", "q9"])}
    assert got == {("q1", 0): "7", ("q1", 1): "4", ("q2", 0): "5"}
    assert store.count_labels() == 3
    many = [DelayedLabel(f"r{i}", 0, "1", AT) for i in range(1200)]
    assert store.add_labels(many) == 1200
    assert len(store.get_labels([f"r{i}" for i in range(1200)])) == 1200
