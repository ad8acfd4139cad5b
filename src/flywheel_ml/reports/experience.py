"""The experience report: the project's history from its records, and the lessons people add.

Written to ``docs/experience.md`` and ``.html``. Recorded facts: the project page, every dataset
version, runs in time order (the first measured one is the baseline; those that beat the best so
far are "what worked"), model versions with their sealed-test evaluations, decisions recorded
from analyses, and the activity log as a timeline. The summary, what worked, what didn't and
the lessons are written by people and kept across regenerations.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from flywheel_ml.analyze.stage import AnalyzeStage
from flywheel_ml.core.clock import utc_now
from flywheel_ml.core.events import EventLog
from flywheel_ml.data.stage import DataStage
from flywheel_ml.plan.stage import PlanStage
from flywheel_ml.registry.stage import RegistryStage
from flywheel_ml.reports.error_analysis import _cell, _num, document_html, write_files
from flywheel_ml.reports.human_sections import keep_human_sections
from flywheel_ml.reports.rendering import render
from flywheel_ml.track.leaderboard import page_metrics
from flywheel_ml.track.stage import TrackStage

HUMAN_SECTIONS = {
    "summary": "What was built, for whom, and did it reach its goal in production?",
    "what_worked": "Which ideas, data changes or models made the difference?",
    "what_didnt": "What was tried and abandoned, and why?",
    "lessons": "What would the team do differently next time? What should others know?",
}
# Analyses are read-only; the timeline shows what changed the project.
_QUIET_KINDS = {"errors.analyzed", "slices.analyzed", "clusters.analyzed", "models.compared",
                "pipeline.measured"}  # fmt: skip
_TIMELINE_LIMIT = 300


@dataclass(frozen=True, slots=True)
class RunPoint:
    """A run's objective value, for the baseline/best/improvement lists."""

    id: str
    name: str
    at: datetime
    value: float
    params: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ExperienceReport:
    """Where the report was written and which human sections are still unwritten."""

    markdown: Path
    html: Path
    unwritten: tuple[str, ...]
    baseline: float | None
    best: float | None
    final: float | None


def write_experience_report(
    *,
    plan: PlanStage,
    data: DataStage,
    track: TrackStage,
    registry: RegistryStage,
    analyze: AnalyzeStage,
    events: EventLog,
    docs_dir: Path,
) -> ExperienceReport:
    """(Re)write ``docs/experience.md`` and ``.html`` from the workspace's records."""
    page = plan.get()
    objective = page.objective.metric if page.objective else "accuracy"
    runs = sorted(track.list_runs(), key=lambda r: r.started_at)
    points = []
    for run in runs:
        value = page_metrics(run, page).get(objective)
        if run.status == "finished" and value is not None:
            points.append(RunPoint(run.short_id, run.name, run.started_at, value,
                                   dict(run.params)))  # fmt: skip
    points = _differing_params(points)
    better = page.objective.better if page.objective else (lambda a, b: a > b)
    improvements: list[RunPoint] = []
    setbacks: list[RunPoint] = []
    for point in points:
        if not improvements or better(point.value, improvements[-1].value):
            improvements.append(point)
        else:
            setbacks.append(point)
    models, evaluations = _models(registry, objective)
    champions = [m for m in models if "champion" in m["aliases"]]
    final = None
    if champions:
        final = champions[-1]["evaluation"]
    elif evaluations:
        final = evaluations[-1]
    recorded = [e for e in events.recent(limit=100_000) if e.kind not in _QUIET_KINDS]
    versions = [v for d in data.list_datasets() for v in data.list_versions(d.name)]
    path = docs_dir / "experience.md"
    existing = path.read_text(encoding="utf-8") if path.is_file() else ""
    human, unwritten = keep_human_sections(HUMAN_SECTIONS, existing)
    markdown = render(
        "experience.md.j2",
        page=page, objective=objective, human=human, generated_at=utc_now(),
        baseline=points[0] if points else None, best=improvements[-1] if improvements else None,
        final=final, runs=runs, counts=dict(Counter(r.status for r in runs)),
        improvements=improvements, setbacks=setbacks,
        failed_runs=[r for r in runs if r.status in ("failed", "crashed", "killed")],
        failed_gates=[e for e in evaluations if not e.passed],
        versions=versions, models=models, decisions=analyze.decisions(),
        timeline=list(reversed(recorded[:_TIMELINE_LIMIT])),
        truncated=len(recorded) if len(recorded) > _TIMELINE_LIMIT else 0,
        num=_num, cell=_cell,
    )  # fmt: skip
    html = document_html(f"{page.name or 'project'} — experience report", markdown, {})
    write_files({path: markdown, path.with_suffix(".html"): html})
    return ExperienceReport(
        path, path.with_suffix(".html"), unwritten,
        baseline=points[0].value if points else None,
        best=improvements[-1].value if improvements else None,
        final=None if final is None else final.objective_value,
    )  # fmt: skip


def _differing_params(points: list[RunPoint]) -> list[RunPoint]:
    # Only the parameters that vary between runs say what was tried (an estimator's dozens
    # of defaults say nothing); at most eight per run.
    keys = {k for p in points for k in p.params}
    varying = sorted(
        k for k in keys if len({repr(p.params[k]) for p in points if k in p.params}) > 1
    )[:8]
    return [
        RunPoint(p.id, p.name, p.at, p.value, {k: p.params[k] for k in varying if k in p.params})
        for p in points
    ]


def _models(registry: RegistryStage, objective: str) -> tuple[list[dict[str, Any]], list[Any]]:
    models = []
    evaluations = []
    for version in registry.list_versions():
        latest = registry.latest_evaluation(version.ref)
        found = registry.evaluations(version.ref)
        evaluations.extend(found)
        aliases = sorted(a for a, n in registry.aliases(version.name).items()
                         if n == version.version)  # fmt: skip
        value = None if latest is None else latest.metrics.get(objective, latest.objective_value)
        verdict = "not evaluated" if latest is None else ("passed" if latest.passed else "FAILED")
        models.append({"ref": version.ref, "dataset": version.dataset, "value": value,
                       "verdict": verdict, "aliases": aliases, "evaluation": latest})  # fmt: skip
    evaluations.sort(key=lambda e: e.at)
    return models, evaluations
