"""The metric buffer: batching, flush guarantee, back-pressure, failed batches kept."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from datetime import datetime

import pytest

from flywheel_ml.errors import StoreUnavailableError
from flywheel_ml.track.buffer import Batch, MetricBuffer

KEY = ("run", "loss")


class Sink:
    def __init__(self, *, delay: float = 0.0, fail: int = 0) -> None:
        self.batches: list[Batch] = []
        self.delay = delay
        self.fail = fail
        self.beats: list[Sequence[str]] = []
        self.lock = threading.Lock()

    def append_points(self, batch: Batch) -> None:
        time.sleep(self.delay)
        with self.lock:
            if self.fail:
                self.fail -= 1
                raise OSError("database went away")
            self.batches.append(batch)

    def heartbeat(self, run_ids: Sequence[str], *, at: datetime) -> None:
        self.beats.append(list(run_ids))

    def steps(self) -> list[int]:
        return [s for b in self.batches for s in b.get(KEY, ([], [], []))[0]]


def test_flush_commits_everything_appended_before_it() -> None:
    sink = Sink()
    buffer = MetricBuffer(sink, batch_size=100, interval_s=10)
    for i in range(250):
        buffer.append(KEY, i, float(i), 0.0)
    buffer.flush()
    assert sorted(sink.steps()) == list(range(250))
    assert buffer.pending() == 0
    buffer.close()


def test_the_flusher_writes_by_size_and_by_time() -> None:
    sink = Sink()
    buffer = MetricBuffer(sink, batch_size=10, interval_s=0.05)
    for i in range(10):
        buffer.append(KEY, i, 1.0, 0.0)
    buffer.append(("run", "acc"), 0, 1.0, 0.0)
    deadline = time.monotonic() + 5
    while buffer.pending() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert buffer.pending() == 0
    assert len(sink.steps()) == 10
    buffer.close()


def test_a_full_buffer_blocks_the_producer_instead_of_growing() -> None:
    sink = Sink(delay=0.2)
    buffer = MetricBuffer(sink, batch_size=10, capacity=20, interval_s=0.01)
    high_water = 0
    for i in range(100):
        buffer.append(KEY, i, 1.0, 0.0)
        high_water = max(high_water, buffer.pending())
    assert high_water <= 20
    buffer.close()
    assert sorted(sink.steps()) == list(range(100))


def test_a_failed_batch_is_kept_and_reported_by_flush() -> None:
    sink = Sink(fail=1)
    buffer = MetricBuffer(sink, batch_size=1000, interval_s=10)
    buffer.append(KEY, 0, 1.0, 0.0)
    with pytest.raises(StoreUnavailableError, match="database went away"):
        buffer.flush()
    buffer.append(KEY, 1, 1.0, 0.0)
    buffer.flush()
    assert sink.steps() == [0, 1]
    buffer.close()


def test_heartbeats_name_the_watched_runs() -> None:
    sink = Sink()
    buffer = MetricBuffer(sink, interval_s=0.01, heartbeat_s=0.02)
    buffer.watch("r1")
    deadline = time.monotonic() + 5
    while not sink.beats and time.monotonic() < deadline:
        time.sleep(0.01)
    buffer.unwatch("r1")
    buffer.close()
    assert ["r1"] in sink.beats
