"""Pure judgements over recorded runs: ranking against the project page, side-by-side diffs."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from flywheel_ml.plan.entities import ProjectPage
from flywheel_ml.plan.gates import rank_key, satisfies
from flywheel_ml.track.entities import Comparison, LeaderboardEntry, ParamValue, Run


def page_metrics(
    run: Run, page: ProjectPage, *, metric_prefix: str | None = None
) -> dict[str, float]:
    """The run's values of the metrics the page names (objective and constraints).

    ``m`` is looked up as ``<metric_prefix>m``; without a prefix as ``m``, then ``val_m``.
    """
    names = [c.metric for c in page.constraints]
    if page.objective is not None:
        names.append(page.objective.metric)
    found: dict[str, float] = {}
    for name in names:
        candidates = [f"{metric_prefix}{name}"] if metric_prefix else [name, f"val_{name}"]
        for candidate in candidates:
            if candidate in run.metrics:
                found[name] = run.metrics[candidate]
                break
    return found


def rank_runs(
    runs: Sequence[Run], page: ProjectPage, *, metric_prefix: str | None = None
) -> list[LeaderboardEntry]:
    """Runs ranked with :func:`flywheel_ml.plan.rank_key`: those meeting every constraint
    first, then by the objective (best first); runs without the objective last."""
    assert page.objective is not None
    judged = []
    for run in runs:
        verdict = satisfies(page, page_metrics(run, page, metric_prefix=metric_prefix))
        judged.append((rank_key(page.objective, verdict), run.started_at, run, verdict))
    judged.sort(key=lambda item: (item[0], -item[1].timestamp()))
    return [
        LeaderboardEntry(
            rank=index + 1,
            run=run,
            objective_value=verdict.objective_value,
            passed=verdict.passed and verdict.objective_value is not None,
            failed_constraints=tuple(
                f"{c.constraint} (measured {c.measured:g})" for c in verdict.failed
            ),
            unmeasured_constraints=tuple(str(c) for c in verdict.unmeasured),
        )
        for index, (_key, _at, run, verdict) in enumerate(judged)
    ]


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
