"""The nine lifecycle stages and the shape of the evidence each one shows in ``status``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

StageName = Literal[
    "plan", "data", "label", "track", "tune", "analyze", "registry", "serve", "monitor"
]

STAGES: tuple[tuple[StageName, str, str], ...] = (
    (
        "plan",
        "what problem, what value, is it feasible, what must the model reach?",
        "project page: one objective metric + satisficing constraints",
    ),
    (
        "data",
        "what data, which version, is it sound, where is the test set?",
        "dataset versions, stable splits, sealed test set, data document",
    ),
    (
        "label",
        "what is the ground truth, do annotators agree, which labels are wrong?",
        "label document, annotations with provenance, agreement, label-error list",
    ),
    (
        "track",
        "what did each experiment do, on which data and code?",
        "runs with params, curves, artifacts, lineage",
    ),
    (
        "tune",
        "what are the baselines, can it overfit, which settings win?",
        "baselines, diagnostics, searches",
    ),
    (
        "analyze",
        "where and why is it wrong?",
        "confusion, slices, failure clusters, error-analysis report",
    ),
    (
        "registry",
        "which model is good enough to ship, proven on the sealed test set?",
        "model versions, gated test evaluation, readiness score",
    ),
    (
        "serve",
        "what is live, for whom, and how do we go back?",
        "deployments: champion, canary, shadow, rollback, prediction log",
    ),
    (
        "monitor",
        "is the world drifting, is the model stale, what goes back to labelling?",
        "drift, alerts, staleness, the flywheel queue",
    ),
)


@dataclass(frozen=True, slots=True)
class Deliverable:
    """One deliverable of a stage, with the evidence found for it or what to run next.

    Attributes:
        name: what the deliverable is, e.g. ``"project page"``.
        done: whether evidence was found.
        evidence: ids, counts and dates that prove it (empty when not done).
        next_step: the command that would produce it (empty when done).
    """

    name: str
    done: bool
    evidence: str = ""
    next_step: str = ""


@dataclass(frozen=True, slots=True)
class StageStatus:
    """The status of one lifecycle stage."""

    stage: StageName
    question: str
    deliverables: tuple[Deliverable, ...] = field(default_factory=tuple)

    @property
    def done(self) -> bool:
        """Whether every deliverable has evidence."""
        return bool(self.deliverables) and all(d.done for d in self.deliverables)
