"""The analyze stage's evidence for ``flywheel status``: analyses run and the report written."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from flywheel_ml.core.events import Event
from flywheel_ml.core.lifecycle import Deliverable

_ANALYSES = {"errors.analyzed", "slices.analyzed", "clusters.analyzed"}


def analyze_deliverables(events: Sequence[Event], docs_dir: Path) -> tuple[Deliverable, ...]:
    """Two deliverables: confusion/slices/clusters analysed, and the error-analysis report.

    Args:
        events: the analyze stage's events, newest first.
        docs_dir: the workspace's documents folder.
    """
    ran = [e for e in events if e.kind in _ANALYSES]
    kinds = sorted({e.kind.split(".")[0] for e in ran})
    if ran:
        last = ran[0]
        analyses = Deliverable(
            "confusion, slices, failure clusters",
            True,
            evidence=f"{len(ran)} analysis run(s) ({', '.join(kinds)}); latest {last.subject} "
            f"{last.at:%Y-%m-%d %H:%M}",
        )
    else:
        analyses = Deliverable(
            "confusion, slices, failure clusters",
            False,
            next_step="flywheel analyze errors MODEL@vN --on val",
        )
    reports = sorted(docs_dir.glob("error-analysis-*.md")) if docs_dir.is_dir() else []
    if reports:
        report = Deliverable(
            "error-analysis report", True, evidence=", ".join(p.name for p in reports[-3:])
        )
    else:
        report = Deliverable(
            "error-analysis report", False, next_step="flywheel docs error-analysis MODEL@vN"
        )
    return (analyses, report)
