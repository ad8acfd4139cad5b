"""What the track stage records: runs, their lineage, metric series and artifacts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import numpy as np
import numpy.typing as npt

from flywheel_ml.core.digests import Digest

RunStatus = Literal["running", "finished", "failed", "killed", "crashed"]
RUN_STATUSES: tuple[RunStatus, ...] = ("running", "finished", "failed", "killed", "crashed")
ENDED_STATUSES: frozenset[str] = frozenset({"finished", "failed", "killed", "crashed"})

ParamValue = str | int | float | bool | None
"""A parameter is a JSON scalar; lists and dicts are stored as their JSON text."""


@dataclass(frozen=True, slots=True)
class Lineage:
    """Where a run came from: code, environment, process, seed.

    Attributes:
        git_commit: ``HEAD`` of the repository holding the working folder ('' outside git).
        git_dirty: whether tracked files differ from ``HEAD``.
        diff_digest: digest of ``git diff HEAD`` (the diff is the artifact ``lineage/git.diff``).
        python: the interpreter version, e.g. ``3.11.7``.
        packages_digest: digest of the sorted ``name==version`` list of installed distributions
            (the list is the artifact ``lineage/packages.txt``).
        host: the machine's name.
        user: who ran it.
        command: the command line.
        cwd: the working folder.
        seed: the seed given to ``seed_everything`` (None when never called).
    """

    git_commit: str = ""
    git_dirty: bool = False
    diff_digest: str = ""
    python: str = ""
    packages_digest: str = ""
    host: str = ""
    user: str = ""
    command: tuple[str, ...] = ()
    cwd: str = ""
    seed: int | None = None


@dataclass(frozen=True, slots=True)
class MetricSummary:
    """One metric of one run: the value at the highest step, the extremes and the count."""

    last: float
    step: int
    min: float
    max: float
    count: int


@dataclass(frozen=True, slots=True)
class Artifact:
    """A file kept with a run; ``kind`` is ``file``, ``model``, ``lineage`` or ``log``."""

    name: str
    kind: str
    digest: Digest
    size: int
    created_at: datetime
    meta: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Run:
    """One experiment as recorded.

    Attributes:
        id: 32 hex characters, ordered by creation time.
        name: a display name (not unique).
        status: running, finished, failed, killed or crashed (its process died unannounced).
        params: parameters, JSON scalars.
        metrics: the latest value (highest step) of each metric.
        tags: free-form labels.
        lineage: code, environment and process facts recorded at start.
        datasets: dataset references used, e.g. ``("digits@v2",)``.
        started_at / ended_at: UTC times; ``ended_at`` is None while running.
        summaries: last/min/max/count of each metric.
        deleted: whether the run was deleted (restorable).
        created_by: the acting user.
    """

    id: str
    name: str
    status: RunStatus
    params: Mapping[str, ParamValue]
    metrics: Mapping[str, float]
    tags: Mapping[str, str]
    lineage: Lineage
    datasets: tuple[str, ...]
    started_at: datetime
    ended_at: datetime | None
    summaries: Mapping[str, MetricSummary] = field(default_factory=dict)
    deleted: bool = False
    created_by: str = ""

    @property
    def short_id(self) -> str:
        """The last 8 characters of the id (random bits; the first ones are a timestamp shared
        by runs started close together), enough to name a run on the command line."""
        return self.id[-8:]

    @property
    def duration_s(self) -> float | None:
        """Seconds from start to end, or None while running."""
        if self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()


@dataclass(frozen=True, slots=True)
class NewRun:
    """What the store needs to create a run (validated by the stage)."""

    id: str
    name: str
    params: Mapping[str, tuple[str, float | None]]
    """Name -> (the value as JSON text, its number when numeric), as ``update_run`` takes."""
    tags: Mapping[str, str]
    lineage: Lineage
    created_by: str
    host: str
    process: str
    started_at: datetime
    datasets: tuple[tuple[str, str], ...] = ()
    """``(ref, dataset name)`` pairs."""
    artifacts: tuple[Artifact, ...] = ()


@dataclass(frozen=True, slots=True)
class LiveRun:
    """A run marked running, with what tells whether its process is still alive."""

    id: str
    host: str
    process: str
    heartbeat_at: datetime


@dataclass(frozen=True, slots=True)
class MetricSeries:
    """Every point of one metric of one run, in step order (ties in logging order).

    ``times`` are seconds since the epoch (UTC).
    """

    run_id: str
    key: str
    steps: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]
    times: npt.NDArray[np.float64]

    def __len__(self) -> int:
        return len(self.steps)


@dataclass(frozen=True, slots=True)
class LeaderboardEntry:
    """A run on the leaderboard: its rank, objective value and constraint verdict."""

    rank: int
    run: Run
    objective_value: float | None
    passed: bool
    failed_constraints: tuple[str, ...]
    unmeasured_constraints: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Comparison:
    """Two or more runs side by side.

    Attributes:
        runs: the runs compared, in the order asked.
        params: each parameter name with its value per run (only names whose values differ
            when ``differing_only``).
        metrics: each metric name with its latest value per run (None where not logged).
        lineage: each lineage field whose value differs, with its value per run.
    """

    runs: tuple[Run, ...]
    params: Mapping[str, tuple[ParamValue, ...]]
    metrics: Mapping[str, tuple[float | None, ...]]
    lineage: Mapping[str, tuple[object, ...]]
