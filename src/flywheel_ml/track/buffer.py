"""Logging that never blocks training: a bounded buffer drained by a background thread.

``append`` puts a point in its series' column lists under a lock (about a microsecond). A
flusher thread writes them as one batch (one transaction) when ``batch_size`` points wait or
``interval_s`` after the first point arrived, whichever comes first. When ``capacity`` points
wait because the store is slower than the producer, ``append`` waits for the flusher instead of
letting memory grow (back-pressure).

Guarantee: when :meth:`MetricBuffer.flush` returns, every point appended before the call is
committed by the store (on SQLite with ``synchronous=FULL``: on disk), so it survives ``kill -9``
of the process. Points appended after the last flush may be lost if the process is killed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol

from flywheel_ml.core.clock import utc_now
from flywheel_ml.errors import FlywheelError, StoreUnavailableError

SeriesKey = tuple[str, str]
"""``(run_id, metric name)``."""
Columns = tuple[list[int], list[float], list[float]]
"""Steps, values and unix times of one series, in logging order."""
Batch = dict[SeriesKey, Columns]


class PointSink(Protocol):
    """Where batches go (the track store)."""

    def append_points(self, batch: Batch) -> None:
        """Commit every point of the batch in one transaction, or none of them."""
        ...

    def heartbeat(self, run_ids: Sequence[str], *, at: datetime) -> None:
        """Record that the runs' process is alive."""
        ...


class MetricBuffer:
    """A bounded buffer of metric points with a background flusher.

    Args:
        sink: the store that commits batches.
        batch_size: write as soon as this many points wait.
        capacity: ``append`` blocks while this many points wait (must be >= batch_size).
        interval_s: write at most this long after a point arrived.
        heartbeat_s: how often the runs in :meth:`watch` get a heartbeat.
    """

    def __init__(
        self,
        sink: PointSink,
        *,
        batch_size: int = 20_000,
        capacity: int = 200_000,
        interval_s: float = 0.1,
        heartbeat_s: float = 10.0,
    ) -> None:
        self._sink = sink
        self._batch_size = batch_size
        self._capacity = max(capacity, batch_size)
        self._interval = interval_s
        self._heartbeat_s = heartbeat_s
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._room = threading.Condition(self._lock)
        self._write_lock = threading.Lock()
        self._pending: Batch = {}
        self._count = 0
        self._error: BaseException | None = None
        self._closed = False
        self._watched: dict[str, int] = {}
        self._last_heartbeat = time.monotonic()
        self._thread = threading.Thread(target=self._loop, name="flywheel-metrics", daemon=True)
        self._thread.start()

    def append(self, series: SeriesKey, step: int, value: float, at: float) -> None:
        """Queue one point; blocks only while ``capacity`` points wait (back-pressure).

        ``series`` should be the same tuple object for every point of a series (the caller
        keeps it), which saves building a key per call.
        """
        with self._lock:
            columns = self._pending.get(series)
            if columns is None:
                columns = self._pending[series] = ([], [], [])
            columns[0].append(step)
            columns[1].append(value)
            columns[2].append(at)
            self._count += 1
            if self._count >= self._batch_size:
                self._wake.notify()
                if self._count >= self._capacity:
                    self._wait_for_room()

    def extend(
        self, series: SeriesKey, steps: Sequence[int], values: Sequence[float], at: float
    ) -> None:
        """Queue many points of one series at once (all logged at time ``at``)."""
        with self._lock:
            columns = self._pending.get(series)
            if columns is None:
                columns = self._pending[series] = ([], [], [])
            columns[0].extend(steps)
            columns[1].extend(values)
            columns[2].extend([at] * len(steps))
            self._count += len(steps)
            if self._count >= self._batch_size:
                self._wake.notify()
                if self._count >= self._capacity:
                    self._wait_for_room()

    def append_many(self, points: Sequence[tuple[SeriesKey, int, float]], at: float) -> None:
        """Queue one point for each ``(series, step, value)``, all logged at time ``at``, under
        one lock (``log_metrics`` of a dict)."""
        with self._lock:
            pending = self._pending
            for series, step, value in points:
                columns = pending.get(series)
                if columns is None:
                    columns = pending[series] = ([], [], [])
                columns[0].append(step)
                columns[1].append(value)
                columns[2].append(at)
            self._count += len(points)
            if self._count >= self._batch_size:
                self._wake.notify()
                if self._count >= self._capacity:
                    self._wait_for_room()

    def _wait_for_room(self) -> None:
        # Called with the lock held; the flusher swaps the list out and notifies _room.
        while self._count >= self._capacity and not self._closed:
            if self._error is not None:
                raise _as_flywheel_error(self._error)
            self._wake.notify()
            self._room.wait(0.5)

    def flush(self, *, commit: Callable[[Batch], None] | None = None) -> None:
        """Write every waiting point now; when it returns they are committed.

        Args:
            commit: writes the waiting points instead of the sink's ``append_points``, so a
                caller can commit them in the same transaction as other changes (ending a run
                costs one transaction that way). It is called even when no point waits.

        Raises:
            StoreUnavailableError: the store could not commit (the points stay queued and are
                retried by the next flush).
        """
        if commit is not None:
            self._write_waiting(commit, always=True)
            return
        self._write_waiting()
        with self._lock:
            error = self._error
        if error is not None:
            raise _as_flywheel_error(error)

    def pending(self) -> int:
        """How many points wait to be written."""
        with self._lock:
            return self._count

    def watch(self, run_id: str) -> None:
        """Send heartbeats for ``run_id`` until :meth:`unwatch`."""
        with self._lock:
            self._watched[run_id] = self._watched.get(run_id, 0) + 1

    def unwatch(self, run_id: str) -> None:
        """Stop the heartbeats of ``run_id``."""
        with self._lock:
            count = self._watched.get(run_id, 0) - 1
            if count <= 0:
                self._watched.pop(run_id, None)
            else:
                self._watched[run_id] = count

    def close(self) -> None:
        """Stop the flusher and write what is left (raises like :meth:`flush`)."""
        with self._lock:
            self._closed = True
            self._wake.notify_all()
            self._room.notify_all()
        self._thread.join(timeout=30)
        self.flush()

    def _loop(self) -> None:
        while True:
            with self._lock:
                deadline = time.monotonic() + self._interval
                while not self._closed and self._count < self._batch_size:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self._wake.wait(remaining)
                if self._closed:
                    return
            self._write_waiting()
            self._maybe_heartbeat()

    def _write_waiting(
        self, commit: Callable[[Batch], None] | None = None, *, always: bool = False
    ) -> None:
        # One writer at a time, so a flush() that follows a batch in flight waits for it.
        with self._write_lock:
            with self._lock:
                batch = self._pending
                if not batch and not always:
                    return
                count = self._count
                self._pending = {}
                self._count = 0
                self._room.notify_all()
            try:
                (commit or self._sink.append_points)(batch)
            except BaseException as exc:
                with self._lock:
                    self._requeue(batch, count)
                    self._error = exc
                if commit is not None:
                    raise _as_flywheel_error(exc) from exc
                return
            with self._lock:
                self._error = None

    def _requeue(self, batch: Batch, count: int) -> None:
        # Called with the lock held: put a failed batch back in front of newer points.
        for series, (steps, values, times) in batch.items():
            newer = self._pending.get(series)
            if newer is not None:
                steps.extend(newer[0])
                values.extend(newer[1])
                times.extend(newer[2])
            self._pending[series] = (steps, values, times)
        self._count += count

    def _maybe_heartbeat(self) -> None:
        now = time.monotonic()
        if now - self._last_heartbeat < self._heartbeat_s:
            return
        self._last_heartbeat = now
        with self._lock:
            run_ids = list(self._watched)
        if run_ids:
            try:
                self._sink.heartbeat(run_ids, at=utc_now())
            except Exception:
                return


def _as_flywheel_error(error: BaseException) -> FlywheelError:
    if isinstance(error, FlywheelError):
        return error
    return StoreUnavailableError(
        f"metrics could not be written: {str(error).splitlines()[0] if str(error) else error!r}",
        hint="check that the database is reachable; the points stay queued and run.flush() "
        "retries them",
    )
