"""Runs and curves as the track pages' JSON (shared by the table, run, compare and
leaderboard pages); non-finite numbers become null, which JSON cannot carry."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from flywheel_ml.track.entities import Run


def run_json(run: Run, *, detail: bool = False) -> dict[str, Any]:
    """A run as JSON: the table's fields, plus lineage and metric summaries with ``detail``."""
    doc: dict[str, Any] = {
        "id": run.id,
        "short_id": run.short_id,
        "name": run.name,
        "status": run.status,
        "started_at": run.started_at,
        "ended_at": run.ended_at,
        "duration_s": run.duration_s,
        "created_by": run.created_by,
        "params": dict(run.params),
        "metrics": {k: finite(v) for k, v in run.metrics.items()},
        "tags": dict(run.tags),
        "datasets": list(run.datasets),
        "deleted": run.deleted,
    }
    if detail:
        doc["lineage"] = dataclasses.asdict(run.lineage)
        doc["summaries"] = {
            k: {
                "last": finite(s.last),
                "step": s.step,
                "min": finite(s.min),
                "max": finite(s.max),
                "count": s.count,
            }
            for k, s in run.summaries.items()
        }
    return doc


def finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def curve_json(key: str, line: Any) -> dict[str, Any]:
    """A downsampled line as JSON: steps, values and how many points the series had."""
    return {"key": key, "x": line.x, "y": line.y, "points_total": line.points_total}
