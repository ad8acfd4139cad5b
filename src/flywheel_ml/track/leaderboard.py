"""Pure judgements over recorded runs: ranking against the project page, side-by-side diffs.

Ranking reads only the few metric values the page names for every run (``(run id, start key,
values)`` rows from :meth:`TrackStore.ranking_values`), so 10,000 runs are ranked without
building a single one; the runs a leaderboard shows are built afterwards.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

from flywheel_ml.plan.entities import ProjectPage
from flywheel_ml.plan.gates import satisfies
from flywheel_ml.track.entities import Comparison, LeaderboardEntry, ParamValue, Run


@dataclasses.dataclass(frozen=True, slots=True)
class Ranking:
    """Every matching run's place, best first.

    Attributes:
        ranked: ``(run id, {page metric: value})`` best first; the values are those the page
            names (objective and constraints) as found in the run, NaN left out.
        passing: how many runs have the objective and meet every constraint.
    """

    ranked: tuple[tuple[str, Mapping[str, float]], ...]
    passing: int

    @property
    def total(self) -> int:
        """How many runs were ranked."""
        return len(self.ranked)


def page_keys(page: ProjectPage, *, metric_prefix: str | None = None) -> dict[str, list[str]]:
    """Each metric the page names (constraints, then the objective) with the run metrics it is
    looked up as, in order: ``<metric_prefix>m``; without a prefix ``m``, then ``val_m``."""
    names = [c.metric for c in page.constraints]
    if page.objective is not None:
        names.append(page.objective.metric)
    return {n: ([f"{metric_prefix}{n}"] if metric_prefix else [n, f"val_{n}"]) for n in names}


def page_metrics(
    run: Run, page: ProjectPage, *, metric_prefix: str | None = None
) -> dict[str, float]:
    """The run's values of the metrics the page names (objective and constraints), as
    :func:`page_keys` looks them up (the first candidate the run logged wins)."""
    found: dict[str, float] = {}
    for name, candidates in page_keys(page, metric_prefix=metric_prefix).items():
        for candidate in candidates:
            if candidate in run.metrics:
                found[name] = run.metrics[candidate]
                break
    return found


def rank_values(
    rows: Sequence[tuple[str, str, Mapping[str, float]]],
    page: ProjectPage,
    *,
    metric_prefix: str | None = None,
) -> Ranking:
    """Rank runs with :func:`flywheel_ml.plan.rank_key`'s order: those with the objective that
    meet every constraint first, then those breaking one, then those without the objective;
    within each by objective (best first), ties newest first.

    Args:
        rows: ``(run id, start key, {run metric: latest value})`` newest first (ties in the
            store's list order); the start key sorts like the start time. A run's dict needs
            only the keys :func:`page_keys` names.
        page: the project page; it must have an objective.
        metric_prefix: see :func:`page_keys`.
    """
    objective = page.objective
    assert objective is not None
    keys = page_keys(page, metric_prefix=metric_prefix)
    sign = -1.0 if objective.direction == "max" else 1.0
    checks = [(c.metric, c.holds) for c in page.constraints]
    judged = []
    passing = 0
    # One tight loop, no verdict objects: this runs for every run on every leaderboard view.
    for run_id, started, values in rows:
        found = {}
        for name, candidates in keys.items():
            for candidate in candidates:
                value = values.get(candidate)
                if value is not None:
                    if not math.isnan(value):  # NaN counts as not measured (plan.satisfies)
                        found[name] = value
                    break
        value = found.get(objective.metric)
        if value is None:
            key: tuple[int, float] = (2, 0.0)
        else:
            met = True
            for metric, holds in checks:
                measured = found.get(metric)
                if measured is None or not holds(measured):
                    met = False
                    break
            passing += met
            key = (0 if met else 1, sign * value)
        judged.append((key, started, run_id, found))
    # Newest first among equals: sort by start descending, then stably by the rank key.
    judged.sort(key=lambda item: item[1], reverse=True)
    judged.sort(key=lambda item: item[0])
    return Ranking(
        ranked=tuple((run_id, found) for _key, _at, run_id, found in judged), passing=passing
    )


def leaderboard_entry(
    rank: int, run: Run, found: Mapping[str, float], page: ProjectPage
) -> LeaderboardEntry:
    """A ranked run with its verdict against the page (``found`` as :class:`Ranking` has it)."""
    verdict = satisfies(page, found)
    return LeaderboardEntry(
        rank=rank,
        run=run,
        objective_value=verdict.objective_value,
        passed=verdict.passed and verdict.objective_value is not None,
        failed_constraints=tuple(
            f"{c.constraint} (measured {c.measured:g})" for c in verdict.failed
        ),
        unmeasured_constraints=tuple(str(c) for c in verdict.unmeasured),
    )


def entry_json(entry: LeaderboardEntry, run: dict[str, Any]) -> dict[str, Any]:
    """A leaderboard entry as JSON, with ``run`` (the caller's JSON form of ``entry.run``)."""
    return {
        "rank": entry.rank,
        "run": run,
        "objective_value": entry.objective_value,
        "passed": entry.passed,
        "failed_constraints": list(entry.failed_constraints),
        "unmeasured_constraints": list(entry.unmeasured_constraints),
    }


def compare_runs(runs: Sequence[Run], *, differing_only: bool = False) -> Comparison:
    """Params, latest metrics and differing lineage fields of ``runs``, side by side."""
    param_names = sorted({k for r in runs for k in r.params})
    params: dict[str, tuple[ParamValue, ...]] = {}
    for name in param_names:
        values = tuple(r.params.get(name) for r in runs)
        if not differing_only or len(set(map(repr, values))) > 1:
            params[name] = values
    metric_names = sorted({k for r in runs for k in r.metrics})
    metrics = {name: tuple(r.metrics.get(name) for r in runs) for name in metric_names}
    lineage: dict[str, tuple[object, ...]] = {}
    for field in dataclasses.fields(runs[0].lineage):
        values = tuple(getattr(r.lineage, field.name) for r in runs)
        if len(set(map(repr, values))) > 1:
            lineage[field.name] = values
    datasets = tuple(", ".join(r.datasets) for r in runs)
    if len(set(datasets)) > 1:
        lineage["datasets"] = datasets
    return Comparison(runs=tuple(runs), params=params, metrics=metrics, lineage=lineage)


def best_values(runs: Sequence[Run], key: str) -> Mapping[str, float]:
    """Run id -> latest value of ``key`` for the runs that logged it."""
    return {r.id: r.metrics[key] for r in runs if key in r.metrics}
