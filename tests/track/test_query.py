"""The run filter grammar: parsing and its errors (pure, no database)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from flywheel_ml.errors import InvalidInputError
from flywheel_ml.track.query import FieldRef, parse_order, parse_query


def test_clauses_and_values() -> None:
    query = parse_query(
        "metrics.val_accuracy > 0.9 and params.C < 10 and tags.kind = 'a b' "
        "and min(metrics.loss) <= 1e-3 and status = finished and started >= 2026-11-01"
    )
    refs = [str(c.ref) for c in query.clauses]
    assert refs == [
        "metrics.val_accuracy",
        "params.C",
        "tags.kind",
        "min(metrics.loss)",
        "status",
        "started",
    ]
    values = [c.value for c in query.clauses]
    assert values[:4] == [0.9, 10.0, "a b", 1e-3]
    assert values[5] == datetime(2026, 11, 1, tzinfo=UTC)


def test_operators_without_spaces_and_double_equals() -> None:
    (clause,) = parse_query("params.solver==lbfgs").clauses
    assert (clause.op, clause.value) == ("=", "lbfgs")


def test_order_keys() -> None:
    order = parse_order("-metrics.val_accuracy")
    assert order.descending and order.ref == FieldRef("metric", "val_accuracy")
    assert parse_order("max(metrics.f1)").ref == FieldRef("metric", "f1", "max")
    assert not parse_order("started").descending


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("metrics.acc >", "expected a value"),
        ("metrics.acc 0.9", "expected an operator"),
        ("metrics.acc > high", "compares with a number"),
        ("colour = red", "unknown field"),
        ("status = sleeping", "unknown run status"),
        ("started > yesterday", "not a date"),
        ("metrics.a > 1 or metrics.b > 1", "expected 'and'"),
        ("metrics.a/b > 1", "invalid metric name"),
        ("tags.kind < 3", "does not apply"),
        ("min(params.C) < 1", "takes one metric"),
    ],
)
def test_malformed_filters_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        parse_query(text)


def test_window_must_be_non_negative() -> None:
    with pytest.raises(InvalidInputError):
        parse_query(limit=-1)
    with pytest.raises(InvalidInputError):
        parse_query(offset=-5)
