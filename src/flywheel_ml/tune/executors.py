"""Where search trials run: this process, local worker processes, or a Dask cluster.

Each worker gets a picklable opener (from the workspace) that opens the same workspace in the
worker's process, and a quota of trials; the trials meet in the study kept in the workspace
database. The quotas add up to the trials asked for, so the study ends with exactly that many.
Worker processes (and a local Dask cluster) live for the whole search, so the fine stage reuses
the processes, imports and data the coarse stage loaded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Any, Protocol

from flywheel_ml.errors import InvalidInputError

if TYPE_CHECKING:
    from flywheel_ml.tune.stage import TuneStage

Opener = Callable[[], "TuneStage"]
_WORKER_SEED_STRIDE = 1000


class Execute(Protocol):
    """Runs ``n`` trials of a study's stage somewhere; returns how many ran."""

    def __call__(
        self, study: str, stage: str, n: int, *, seed: int, timeout: float | None
    ) -> int: ...


def worker(
    opener: Opener, study: str, stage: str, n_trials: int, seed: int, timeout: float | None
) -> int:
    """Run ``n_trials`` trials of the study in this (worker) process."""
    from flywheel_ml.tune.search import run_trials

    return run_trials(opener(), study, stage=stage, n_trials=n_trials, seed=seed, timeout=timeout)


def quotas(n: int, workers: int) -> list[int]:
    """``n`` split into at most ``workers`` positive parts that differ by at most one."""
    return [q for q in (n // workers + (1 if i < n % workers else 0) for i in range(workers)) if q]


@contextmanager
def open_executor(tune: TuneStage, *, jobs: int, dask: str | None) -> Iterator[Execute]:
    """An :class:`Execute` for the search; the pool or cluster starts on first use and stops
    when the block ends."""
    if dask is None and jobs == 1:

        def here(study: str, stage: str, n: int, *, seed: int, timeout: float | None) -> int:
            from flywheel_ml.tune.search import run_trials

            return run_trials(tune, study, stage=stage, n_trials=n, seed=seed, timeout=timeout)

        yield here
        return
    if tune.worker_opener is None:
        raise InvalidInputError(
            "this workspace cannot start search workers", hint="run the search with --jobs 1"
        )
    opener = tune.worker_opener()
    with ExitStack() as stack:
        pool: list[Any] = []

        def submit_all(study: str, stage: str, n: int, seed: int, timeout: float | None) -> int:
            tune.track.flush()  # workers must see every run this process wrote
            if not pool:
                pool.append(stack.enter_context(_dask(dask, jobs) if dask else _processes(jobs)))
            run_parts = pool[0]
            return int(
                run_parts(opener, study, stage, quotas(n, _width(run_parts, jobs)), seed, timeout)
            )

        def remote(study: str, stage: str, n: int, *, seed: int, timeout: float | None) -> int:
            return submit_all(study, stage, n, seed, timeout)

        yield remote


def _width(run_parts: Any, jobs: int) -> int:
    return int(getattr(run_parts, "width", jobs))


class _PartsRunner:
    """Runs quotas of trials on an executor and sums what ran."""

    def __init__(
        self, submit: Callable[..., Any], gather: Callable[[list[Any]], Sequence[Any]], width: int
    ) -> None:
        self._submit = submit
        self._gather = gather
        self.width = width

    def __call__(
        self,
        opener: Opener,
        study: str,
        stage: str,
        parts: Sequence[int],
        seed: int,
        timeout: float | None,
    ) -> int:
        futures = [
            self._submit(worker, opener, study, stage, q, seed + i * _WORKER_SEED_STRIDE, timeout)
            for i, q in enumerate(parts)
        ]
        return sum(int(r) for r in self._gather(futures))


@contextmanager
def _processes(jobs: int) -> Iterator[_PartsRunner]:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # Spawn, not fork: the parent has threads (the metric flusher, database pools).
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        yield _PartsRunner(pool.submit, lambda fs: [f.result() for f in fs], jobs)


@contextmanager
def _dask(address: str, jobs: int) -> Iterator[_PartsRunner]:
    """``'local'`` starts a LocalCluster on 127.0.0.1 with ``jobs`` single-threaded worker
    processes; anything else is a scheduler address."""
    from distributed import Client, LocalCluster

    with ExitStack() as stack:
        if address == "local":
            cluster = stack.enter_context(
                LocalCluster(  # type: ignore[no-untyped-call]
                    n_workers=jobs,
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",
                    dashboard_address="127.0.0.1:0",
                )
            )
            client = stack.enter_context(Client(cluster))  # type: ignore[no-untyped-call]
        else:
            try:
                client = stack.enter_context(
                    Client(address, timeout="10s")  # type: ignore[no-untyped-call]
                )
            except (OSError, TimeoutError) as exc:
                raise InvalidInputError(
                    f"cannot reach the Dask scheduler at {address}: {exc}",
                    hint="start one with `dask scheduler` or pass --dask local",
                ) from exc
        width = max(1, len(client.scheduler_info().get("workers", {})))

        def submit(fn: Callable[..., Any], *args: Any) -> Any:
            return client.submit(fn, *args, pure=False)

        yield _PartsRunner(submit, client.gather, width)
