"""The facts the ML Test Score reads about one model version, gathered once from the stages,
and the verdicts' shape (see :mod:`flywheel_ml.reports.readiness`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from flywheel_ml.core.clock import utc_now
from flywheel_ml.core.lifecycle import StageStatus
from flywheel_ml.data.stage import DataStage
from flywheel_ml.errors import FlywheelError
from flywheel_ml.monitor.logscan import decode_vectors, log_parts, scan_log
from flywheel_ml.plan.entities import ProjectPage
from flywheel_ml.registry.entities import Evaluation, ModelVersion
from flywheel_ml.registry.stage import RegistryStage
from flywheel_ml.serve.entities import DeploymentMove
from flywheel_ml.serve.stage import ServeStage
from flywheel_ml.track.entities import Run
from flywheel_ml.track.query import Clause, FieldRef, RunQuery
from flywheel_ml.track.stage import TrackStage

Section = Literal["data", "model", "infrastructure", "monitoring"]
State = Literal["passed", "failed", "not measurable yet", "outside Flywheel"]
SECTIONS: tuple[Section, ...] = ("data", "model", "infrastructure", "monitoring")
MEASURED: tuple[State, ...] = ("passed", "failed")
"""The states of a test that could be judged from recorded facts."""


@dataclass(frozen=True, slots=True)
class ReadinessItem:
    """One test of the rubric and its verdict."""

    section: Section
    number: int
    title: str
    state: State
    points: float
    evidence: str = ""
    next_step: str = ""


@dataclass(frozen=True, slots=True)
class ReadinessReport:
    """The 28 verdicts for one model version, the section scores and the final score."""

    model: str
    items: tuple[ReadinessItem, ...]
    at: datetime

    @property
    def section_scores(self) -> dict[Section, float]:
        """Points per section (each out of 7)."""
        return {s: sum(i.points for i in self.items if i.section == s) for s in SECTIONS}

    @property
    def score(self) -> float:
        """The final score: the lowest section score (out of 7)."""
        return min(self.section_scores.values())

    @property
    def measurable(self) -> int:
        """How many tests could be judged (passed or failed) from the recorded facts."""
        return sum(1 for i in self.items if i.state in MEASURED)

    @property
    def passed(self) -> int:
        """How many tests passed."""
        return sum(1 for i in self.items if i.state == "passed")

    def summary(self) -> dict[str, object]:
        """The one-line form ``status`` shows: model, score, passed, measurable, total."""
        return {
            "model": self.model,
            "score": self.score,
            "passed": self.passed,
            "measurable": self.measurable,
            "total": len(self.items),
        }


@dataclass(frozen=True, slots=True)
class ServedRows:
    """A model version's rows of the prediction log, as the monitoring tests read them."""

    rows: int
    widths: frozenset[int]
    """The lengths of the logged input vectors (one length when serving matches training)."""
    non_finite: int
    """Rows whose class probabilities hold a NaN or an infinity."""


def served_rows(log_dir: Path, *, model: str, version: str) -> ServedRows:
    """Read ``version``'s rows of the prediction log under ``log_dir`` batch by batch.

    Three columns of record batches, never a DataFrame of the whole log: a busy model logs
    millions of rows, and ``status`` reads this for the champion's readiness.
    """
    import numpy as np
    import pyarrow.compute as pc

    rows, bad = 0, 0
    widths: set[int] = set()
    columns = ("features", "probabilities")
    parts = log_parts(log_dir)
    for mine in scan_log(parts, model=model, since=None, version=version, columns=columns):
        rows += mine.num_rows
        sizes = pc.binary_length(mine["features"]).drop_null().to_numpy()
        widths.update(int(n) // 8 for n in np.unique(sizes))
        bad += _non_finite_rows(mine["probabilities"])
    return ServedRows(rows, frozenset(widths), bad)


def _non_finite_rows(column: Any) -> int:
    import numpy as np

    present = column.is_valid().to_numpy(zero_copy_only=False)
    if not present.any():
        return 0
    try:
        matrix = decode_vectors(column)  # one frombuffer when every row has one width
    except ValueError:
        return sum(
            1
            for cell in column.to_pylist()
            if cell is not None and not np.isfinite(np.frombuffer(cell, dtype="<f8")).all()
        )
    return int((~np.isfinite(matrix[present]).all(axis=1)).sum())


@dataclass(frozen=True)
class Facts:
    """What the tests read, gathered once from the stages."""

    version: ModelVersion
    page: ProjectPage
    run: Run | None
    runs: Sequence[Run]
    """The runs the comparisons need (baselines, and runs sharing the model run's finished
    config), not every run: a workspace may hold 10,000."""
    evaluation: Evaluation | None
    alias_moves: Sequence[Any]
    moves: Sequence[DeploymentMove]
    served: ServedRows | None
    """What the version's rows of the prediction log show (None: the log could not be read)."""
    last_check: dict[str, Any] | None
    schema: dict[str, Any]
    status: dict[str, StageStatus]
    now: datetime = field(default_factory=utc_now)

    def deliverable(self, stage: str, word: str) -> tuple[bool, str, str]:
        """``(done, evidence, next step)`` of the stage's first deliverable naming ``word``."""
        found = self.status.get(stage)
        for item in () if found is None else found.deliverables:
            if word in item.name:
                return item.done, item.evidence, item.next_step
        return False, "", f"the {stage} stage does not record this yet"


def gather(
    ref: str,
    *,
    plan: Callable[[], ProjectPage],
    data: DataStage,
    track: TrackStage,
    registry: RegistryStage,
    serve: ServeStage,
    status: Sequence[StageStatus],
) -> Facts:
    """Collect the facts the tests read about model version ``ref`` (aliases resolve).

    Raises:
        NotFoundError: no such model version.
    """
    version = registry.get_version(ref)
    try:
        run: Run | None = track.get_run(version.run_id)
    except FlywheelError:
        run = None
    schema: dict[str, Any] = {}
    last_check = None
    if version.dataset:
        try:
            schema = dict(data.get_version(version.dataset).facts.get("schema", {}))
            last_check = data.last_check(version.dataset)
        except FlywheelError:
            schema = {}
    try:
        moves = serve.history(version.name)
    except FlywheelError:
        moves = []
    try:
        served: ServedRows | None = served_rows(
            serve.log_dir, model=version.name, version=version.ref
        )
    except (FlywheelError, OSError, ValueError):  # an unreadable part: not measurable
        served = None
    return Facts(
        version=version,
        page=plan(),
        run=run,
        runs=_related_runs(track, run),
        evaluation=registry.latest_evaluation(version.ref),
        alias_moves=registry.alias_history(version.name),
        moves=moves,
        served=served,
        last_check=last_check,
        schema=schema,
        status={s.stage: s for s in status},
    )


def _related_runs(track: TrackStage, run: Run | None) -> list[Run]:
    """Baselines and the finished runs with the model run's numeric and text params and
    datasets: a superset of what the baseline and twin tests compare, read with filters."""
    found = {r.id: r for r in track.list_runs("tags.kind = baseline")}
    found.update((r.id, r) for r in track.list_runs("tags.baseline ~ ''"))
    if run is not None:
        clauses = [Clause(FieldRef("status"), "=", "finished")]
        for name, value in run.params.items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                clauses.append(Clause(FieldRef("param", name), "=", float(value)))
            elif isinstance(value, str):
                clauses.append(Clause(FieldRef("param", name), "=", value))
        clauses += [Clause(FieldRef("dataset"), "=", ref) for ref in run.datasets]
        found.update((r.id, r) for r in track.query(RunQuery(clauses=tuple(clauses))))
    return list(found.values())
