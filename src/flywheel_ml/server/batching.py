"""Micro-batching of concurrent requests on the gateway's event loop.

Requests submit their rows and await a future; one worker task takes every queued job (up to
``max_batch_rows`` rows), groups the jobs by model version, runs one prediction per group and
hands each job its slice of the answer. A lone request is predicted at once: the worker waits (at
most ``max_wait_s``) only while other requests are still being read, so sequential clients pay no
batching delay while concurrent ones share one call into the model.

Cheap batches run on the event loop itself (a thread hop would cost more than the work); once the
running average of a batch exceeds ``offload_after_s`` they move to one worker thread, so the loop
keeps accepting requests and shedding load with 503s. The queue is bounded: :meth:`submit` raises
:class:`OverloadedError` when ``max_queue`` jobs wait. Background work (shadow and canary-baseline
predictions) runs only when no request waits and is dropped, not queued without limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from flywheel_ml.serve.predictors import Predictor, has_proba

Answer = tuple[npt.NDArray[Any], npt.NDArray[np.float64] | None]


class OverloadedError(Exception):
    """The request queue is full; the client should retry later."""


@dataclass(slots=True)
class _Job:
    predictor: Predictor
    X: npt.NDArray[np.float64]
    future: asyncio.Future[Answer] | None
    callback: Callable[[Answer | None], None] | None = None
    want_proba: bool = True


def predict_answer(
    predictor: Predictor, X: npt.NDArray[np.float64], *, want_proba: bool = True
) -> Answer:
    """Predictions and (when wanted and the model has them) class probabilities for ``X``."""
    if not want_proba or not has_proba(predictor):
        return predictor.predict(X), None
    both = getattr(predictor, "predict_with_proba", None)
    if both is not None:
        result: Answer = both(X)
        return result
    return predictor.predict(X), predictor.predict_proba(X)  # type: ignore[attr-defined]


class MicroBatcher:
    """Collects concurrent jobs into batches and predicts them (see the module docstring).

    Args:
        max_batch_rows: the most rows predicted in one call.
        max_wait_s: the longest a batch waits for requests still being read.
        max_queue: the most jobs that may wait; more raise :class:`OverloadedError`.
        max_background: the most background jobs that may wait; more are dropped.
        offload_after_s: batches slower than this on average run in a worker thread.
    """

    def __init__(
        self,
        *,
        max_batch_rows: int = 64,
        max_wait_s: float = 0.002,
        max_queue: int = 1024,
        max_background: int = 1024,
        offload_after_s: float = 0.005,
    ) -> None:
        self.max_batch_rows = max_batch_rows
        self.max_wait_s = max_wait_s
        self.max_queue = max_queue
        self.max_background = max_background
        self.offload_after_s = offload_after_s
        self.arriving = 0
        """Requests being read; the gateway counts them so a batch can wait for them."""
        self.batches = 0
        self.batched_jobs = 0
        self.largest_batch = 0
        self.rejected = 0
        self.background_dropped = 0
        self._queue: deque[_Job] = deque()
        self._background: deque[_Job] = deque()
        self._wake = asyncio.Event()
        self._average_s = 0.0
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="flywheel-predict")
        self._task: asyncio.Task[None] | None = None
        self._busy = False

    @property
    def queued(self) -> int:
        """Jobs waiting for the worker."""
        return len(self._queue)

    def start(self) -> None:
        """Start the worker task on the running loop."""
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def drain(self, *, timeout_s: float = 10.0) -> None:
        """Wait (at most ``timeout_s``) until no request or background job is waiting."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while (self._queue or self._background or self._busy) and loop.time() < deadline:
            await asyncio.sleep(0.005)

    async def stop(self) -> None:
        """Stop the worker (queued jobs fail with CancelledError) and its thread."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for job in self._queue:
            if job.future is not None and not job.future.done():
                job.future.cancel()
        self._pool.shutdown(wait=False)

    def submit(
        self, predictor: Predictor, X: npt.NDArray[np.float64], *, want_proba: bool = True
    ) -> asyncio.Future[Answer]:
        """Queue ``X`` for ``predictor``; await the returned future for the answer.

        Raises:
            OverloadedError: ``max_queue`` jobs are waiting already.
        """
        if len(self._queue) >= self.max_queue:
            self.rejected += 1
            raise OverloadedError
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._queue.append(_Job(predictor, X, future, want_proba=want_proba))
        self._wake.set()
        return future

    def submit_background(
        self,
        predictor: Predictor,
        X: npt.NDArray[np.float64],
        callback: Callable[[Answer | None], None],
    ) -> None:
        """Predict ``X`` when no request waits and pass the answer (None on failure) on."""
        if len(self._background) >= self.max_background:
            self.background_dropped += 1
            callback(None)
            return
        self._background.append(_Job(predictor, X, None, callback, want_proba=False))
        self._wake.set()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self._queue and not self._background:
                self._wake.clear()
                await self._wake.wait()
            self._busy = True
            if self._queue:
                await self._gather(loop)
                await self._predict_batch(self._take())
            else:
                await self._predict_background(self._background.popleft())
            self._busy = False
            # Let the answered handlers send their responses before the next batch.
            await asyncio.sleep(0)

    async def _gather(self, loop: asyncio.AbstractEventLoop) -> None:
        if self.max_wait_s <= 0 or self.arriving <= 0:
            return
        deadline = loop.time() + self.max_wait_s
        while self.arriving > 0 and len(self._queue) < self.max_batch_rows:
            if loop.time() >= deadline:
                return
            await asyncio.sleep(0)

    def _take(self) -> list[_Job]:
        jobs = [self._queue.popleft()]
        rows = len(jobs[0].X)
        while self._queue and rows + len(self._queue[0].X) <= self.max_batch_rows:
            job = self._queue.popleft()
            rows += len(job.X)
            jobs.append(job)
        return jobs

    async def _compute(
        self, predictor: Predictor, X: npt.NDArray[np.float64], want_proba: bool
    ) -> Answer:
        started = time.perf_counter()
        if self._average_s > self.offload_after_s:
            loop = asyncio.get_running_loop()
            answer = await loop.run_in_executor(
                self._pool, lambda: predict_answer(predictor, X, want_proba=want_proba)
            )
        else:
            answer = predict_answer(predictor, X, want_proba=want_proba)
        self._average_s = 0.8 * self._average_s + 0.2 * (time.perf_counter() - started)
        return answer

    async def _predict_batch(self, jobs: list[_Job]) -> None:
        self.batches += 1
        self.batched_jobs += len(jobs)
        self.largest_batch = max(self.largest_batch, len(jobs))
        groups: dict[int, list[_Job]] = {}
        for job in jobs:
            groups.setdefault(id(job.predictor), []).append(job)
        for group in groups.values():
            live = [j for j in group if j.future is not None and not j.future.done()]
            if not live:
                continue
            X = live[0].X if len(live) == 1 else np.concatenate([j.X for j in live])
            try:
                wanted = any(j.want_proba for j in live)
                preds, proba = await self._compute(live[0].predictor, X, wanted)
            except Exception as exc:  # a model failure answers its own requests
                for job in live:
                    if job.future is not None and not job.future.done():
                        job.future.set_exception(exc)
                continue
            start = 0
            for job in live:
                stop = start + len(job.X)
                if job.future is not None and not job.future.done():
                    part = None if proba is None or not job.want_proba else proba[start:stop]
                    job.future.set_result((preds[start:stop], part))
                start = stop

    async def _predict_background(self, job: _Job) -> None:
        assert job.callback is not None
        try:
            answer: Answer | None = await self._compute(job.predictor, job.X, False)
        except Exception:  # a failing shadow must not hurt the champion
            answer = None
        job.callback(answer)
