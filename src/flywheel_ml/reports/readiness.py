"""Production readiness: the 28 tests of the ML Test Score, each judged from recorded facts.

The rubric is Breck et al., "The ML Test Score" (2017), which seed 004 uses as its checklist:
seven tests in each of four sections (data, model, infrastructure, monitoring). A test scores
0.5 when it was done once and its result is on record, and 1 when Flywheel checks it
automatically on every release; a section's score is the sum of its tests, and the final score is
the lowest section score (a system is as ready as its weakest part).

Every verdict names its evidence (run ids, versions, dates) or, when it cannot be judged yet,
the command that would produce the fact. Tests about things Flywheel does not see (feature cost,
privacy review) say so instead of guessing.
"""

from __future__ import annotations

from flywheel_ml.registry.stage import RegistryStage
from flywheel_ml.reports.readiness_checks import STALE_AFTER, TESTS
from flywheel_ml.reports.readiness_facts import (
    MEASURED,
    SECTIONS,
    Facts,
    ReadinessItem,
    ReadinessReport,
    Section,
    State,
    gather,
)

__all__ = [
    "MEASURED",
    "SECTIONS",
    "STALE_AFTER",
    "TESTS",
    "Facts",
    "ReadinessItem",
    "ReadinessReport",
    "Section",
    "State",
    "champion_ref",
    "gather",
    "judge",
]


def judge(facts: Facts) -> ReadinessReport:
    """The 28 verdicts for the facts gathered about one model version."""
    items = []
    counters = dict.fromkeys(SECTIONS, 0)
    for section, title, check in TESTS:
        counters[section] += 1
        state, points, evidence, next_step = check(facts)
        items.append(
            ReadinessItem(section, counters[section], title, state, points, evidence, next_step)
        )
    return ReadinessReport(model=facts.version.ref, items=tuple(items), at=facts.now)


def champion_ref(registry: RegistryStage) -> str | None:
    """``name@vN`` of the first model (by name) with a ``champion`` alias, or None."""
    for name in sorted({v.name for v in registry.list_versions()}):
        number = registry.aliases(name).get("champion")
        if number is not None:
            return f"{name}@v{number}"
    return None
