"""What the track stage needs from a backend.

Every write is one transaction, validated by the stage before it reaches the store; each
write that changes a run's life (start, end, delete, restore, model logged) also records its
activity event in the same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol

from flywheel_ml.track.buffer import Batch
from flywheel_ml.track.entities import Artifact, LiveRun, MetricSeries, NewRun, Run
from flywheel_ml.track.query import RunQuery


class TrackStore(Protocol):
    """Runs, their parameters, tags, datasets, metric series and artifacts."""

    def create_run(self, run: NewRun) -> None:
        """Insert a run (status running) with its params and tags."""
        ...

    def update_run(
        self,
        run_id: str,
        *,
        params: Mapping[str, tuple[str, float | None]] | None = None,
        tags: Mapping[str, str] | None = None,
        datasets: Sequence[tuple[str, str]] = (),
        seed: int | None = None,
    ) -> None:
        """Merge params (name -> JSON text, number), tags, ``(ref, name)`` datasets and the seed.

        Raises:
            NotFoundError: no such run.
        """
        ...

    def finish_run(
        self, run_id: str, *, status: str, at: datetime, points: Batch | None = None
    ) -> None:
        """Set the final status and end time of a running run (a no-op for an ended run),
        committing ``points`` (as :meth:`append_points`) in the same transaction."""
        ...

    def heartbeat(self, run_ids: Sequence[str], *, at: datetime) -> None:
        """Record that the process of these running runs is alive."""
        ...

    def append_points(self, batch: Batch) -> None:
        """Commit every point of ``batch`` (series -> steps, values, times) in one
        transaction, with the per-series aggregates."""
        ...

    def get_run(self, run_id: str) -> Run | None:
        """The run with this exact id (deleted ones too), or None."""
        ...

    def match_ids(self, part: str, *, limit: int = 2) -> list[str]:
        """Up to ``limit`` run ids that start or end with ``part``."""
        ...

    def list_runs(self, query: RunQuery) -> list[Run]:
        """The runs matching ``query``, sorted and windowed (newest first when unsorted)."""
        ...

    def count_runs(self, query: RunQuery) -> int:
        """How many runs match ``query`` (ignoring its window)."""
        ...

    def ranking_values(
        self, query: RunQuery, keys: Sequence[str]
    ) -> list[tuple[str, str, dict[str, float]]]:
        """``(run id, start key, {key: latest value})`` of every run matching ``query``'s
        filter (its order and window ignored), newest first as :meth:`list_runs` orders them.

        Only ``keys`` are read (a run without any of them gets an empty dict), so ranking many
        runs never builds them. The start key is any string that sorts like the start time.
        """
        ...

    def get_runs(self, run_ids: Sequence[str]) -> dict[str, Run]:
        """The runs with these exact ids, built in full (unknown ids are left out)."""
        ...

    def change_token(self) -> object | None:
        """A cheap value that changes whenever anything is written (by any process), for
        caching what is computed from the runs; None when the store cannot tell (no caching).
        """
        ...

    def metric_series(self, run_id: str, key: str) -> MetricSeries:
        """Every point of one metric, in step order (empty when never logged)."""
        ...

    def add_artifact(self, run_id: str, artifact: Artifact) -> None:
        """Attach an artifact (replacing one of the same name)."""
        ...

    def list_artifacts(self, run_id: str) -> list[Artifact]:
        """The run's artifacts by name."""
        ...

    def set_deleted(self, run_id: str, *, deleted: bool, at: datetime) -> None:
        """Delete (hide) or restore a run."""
        ...

    def live_runs(self) -> list[LiveRun]:
        """Every run whose status is running."""
        ...

    def mark_crashed(self, run_ids: Sequence[str], *, at: datetime) -> None:
        """Set these still-running runs to crashed."""
        ...
