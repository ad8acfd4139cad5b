"""The REST wire format round-trips the stores' values and refuses anything it does not know."""

from __future__ import annotations

import math
import pickle
from datetime import UTC, datetime

import numpy as np
import orjson
import pytest

from flywheel_ml.backends import wire
from flywheel_ml.core.events import Event
from flywheel_ml.errors import InvalidInputError
from flywheel_ml.track.entities import Lineage, MetricSeries, NewRun

T0 = datetime(2026, 11, 28, 12, 30, tzinfo=UTC)


def _round(value: object) -> object:
    return wire.loads(wire.dumps(value))


def test_tuples_sets_datetimes_bytes_and_tuple_keys_come_back_as_they_were() -> None:
    batch = {("run-1", "loss"): ([0, 1], [0.5, float("nan")], [1.0, 2.0])}
    value = {
        "t": (1, "a", None),
        "fs": frozenset({"x", "y"}),
        "at": T0,
        "raw": b"\x00\xffbytes",
        "batch": batch,
        "$dollar": 1,
    }
    back = _round(value)
    assert isinstance(back, dict)
    assert back["t"] == (1, "a", None)
    assert back["fs"] == frozenset({"x", "y"})
    assert back["at"] == T0 and back["at"].tzinfo is not None
    assert back["raw"] == b"\x00\xffbytes"
    (key, (steps, values, times)), *_ = back["batch"].items()
    assert key == ("run-1", "loss") and steps == [0, 1] and times == [1.0, 2.0]
    assert values[0] == 0.5 and math.isnan(values[1])
    assert back["$dollar"] == 1


def test_non_finite_floats_survive() -> None:
    back = _round([float("inf"), float("-inf"), float("nan"), 1.5])
    assert isinstance(back, list)
    assert back[0] == math.inf and back[1] == -math.inf and math.isnan(back[2])
    assert back[3] == 1.5


def test_entities_round_trip_with_nested_entities_and_arrays() -> None:
    run = NewRun(
        id="r1",
        name="n",
        params={"lr": ("0.1", 0.1)},
        tags={"k": "v"},
        lineage=Lineage(git_commit="abc", command=("python", "train.py"), seed=3),
        created_by="alice",
        host="h",
        process="p",
        started_at=T0,
        datasets=(("d@v1", "train"),),
    )
    assert _round(run) == run
    series = MetricSeries(
        run_id="r1",
        key="loss",
        steps=np.arange(3, dtype=np.int64),
        values=np.array([0.1, 0.2, np.nan]),
        times=np.array([1.0, 2.0, 3.0]),
    )
    back = _round(series)
    assert isinstance(back, MetricSeries)
    assert back.steps.dtype == np.int64 and back.steps.tolist() == [0, 1, 2]
    assert np.isnan(back.values[2]) and back.values[:2].tolist() == [0.1, 0.2]
    event = Event(id="e", stage="s", kind="k", subject="x", actor="a", at=T0, detail={"n": 1})
    assert _round(event) == event


def test_naive_datetimes_are_refused_on_both_sides() -> None:
    with pytest.raises(InvalidInputError, match="naive datetime"):
        wire.dumps(datetime(2026, 1, 1))
    with pytest.raises(InvalidInputError, match="naive"):
        wire.loads(orjson.dumps({"$dt": "2026-01-01T00:00:00"}))


@pytest.mark.parametrize(
    "payload",
    [
        {"$dc": "os:system", "f": {}},  # not an entity: nothing is imported by name
        {"$dc": "flywheel_ml.core.events:Event", "f": {"nope": 1}},  # undeclared field
        {"$zz": 1},  # unknown tag
        {"$nd": ["object", [1], "AA=="]},  # arrays of Python objects
        {"$f": "1e5"},  # finite floats are plain JSON
        {"$b": "not base64!"},
    ],
)
def test_malformed_or_foreign_payloads_are_refused(payload: object) -> None:
    with pytest.raises(InvalidInputError):
        wire.loads(orjson.dumps(payload))


def test_deep_nesting_is_refused() -> None:
    data: object = 1
    for _ in range(100):
        data = [data]
    with pytest.raises(InvalidInputError, match="deeply"):
        wire.loads(orjson.dumps(data))


def test_values_outside_the_entity_modules_cannot_be_sent() -> None:
    class Foreign:
        pass

    with pytest.raises(TypeError):
        wire.dumps(Foreign())
    with pytest.raises(TypeError):
        wire.dumps(np.array([object()]))
    # Whatever bytes arrive, decoding never unpickles them.
    with pytest.raises(InvalidInputError):
        wire.loads(pickle.dumps({"a": 1}))


def test_values_are_checked_against_store_annotations() -> None:
    import typing

    from flywheel_ml.backends.wire_types import conforms
    from flywheel_ml.track.store import TrackStore

    hints = typing.get_type_hints(TrackStore.update_run)
    assert conforms({"lr": ("0.1", 0.1)}, hints["params"])
    assert conforms(None, hints["params"])
    assert not conforms({"lr": 0.1}, hints["params"])
    assert conforms([("d@v1", "d")], hints["datasets"])
    assert not conforms([("d@v1",)], hints["datasets"])
    assert not conforms(True, hints["seed"])  # a bool is not a number to a store
    batch = typing.get_type_hints(TrackStore.append_points)["batch"]
    assert conforms({("r", "loss"): ([0], [0.5], [1.0])}, batch)
    assert not conforms({("r", "loss"): (["0"], [0.5], [1.0])}, batch)
    run = NewRun(
        id="r",
        name="n",
        params={},
        tags={"k": 1},  # type: ignore[dict-item]
        lineage=Lineage(),
        created_by="a",
        host="h",
        process="p",
        started_at=T0,
    )
    assert not conforms(run, typing.get_type_hints(TrackStore.create_run)["run"])
    series = typing.get_type_hints(MetricSeries)["steps"]
    assert conforms(np.arange(2), series) and not conforms([0, 1], series)
