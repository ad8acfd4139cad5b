"""What the tune stage records and reports: studies, overfit checks, learning curves, diagnoses."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Gap = Literal["avoidable_bias", "variance", "data_mismatch", "none"]


@dataclass(frozen=True, slots=True)
class StudyInfo:
    """A search as recorded next to its Optuna study.

    Attributes:
        name: the study's name (also Optuna's study name).
        config: the experiment configuration the search started from (JSON).
        metric: the validation metric optimised, e.g. ``accuracy`` (read as ``val_accuracy``).
        direction: ``max`` or ``min``.
        n_trials: how many trials the search asked for in total.
        coarse_trials: how many of them sample the full space at random.
        fine_space: the narrowed space of the fine stage (None until the coarse stage is done).
    """

    name: str
    config: Mapping[str, object]
    metric: str
    direction: str
    n_trials: int
    coarse_trials: int
    fine_space: Mapping[str, object] | None
    created_by: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class OverfitCheck:
    """Whether a model fits one small batch almost perfectly (it has the capacity to learn).

    ``train_score`` is the accuracy (or R²) on the batch it was trained on; the check passes
    when it reaches ``threshold``.
    """

    run_id: str
    batch_size: int
    metric: str
    train_score: float
    threshold: float

    @property
    def passed(self) -> bool:
        """Whether the model fitted the batch."""
        return self.train_score >= self.threshold


@dataclass(frozen=True, slots=True)
class CurvePoint:
    """Train and validation score at one training-set size."""

    fraction: float
    rows: int
    train_score: float
    val_score: float


@dataclass(frozen=True, slots=True)
class LearningCurve:
    """Scores as the training set grows, and what they say about collecting more data."""

    run_id: str
    metric: str
    points: tuple[CurvePoint, ...]
    verdict: str
    more_data_helps: bool


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """The error decomposition of one run (errors are ``1 - score`` for scores in [0, 1]).

    Attributes:
        human_error: the reference (optimal/human) error; 0 when no human baseline is known.
        train_error / val_error: the run's errors on its training data and validation split.
        train_dev_error: error on held-out data from the training distribution, when measured.
        gaps: avoidable bias (train - human), variance (train-dev or val - train), and data
            mismatch (val - train-dev) when train-dev is measured.
        dominant: the largest gap, or ``none`` when every gap is below ``tolerance``.
        remedies: what to try for the dominant gap.
    """

    run_id: str
    metric: str
    human_error: float
    human_source: str
    train_error: float
    val_error: float
    train_dev_error: float | None
    gaps: Mapping[str, float]
    dominant: Gap
    remedies: tuple[str, ...]
    tolerance: float = 0.01
    notes: tuple[str, ...] = field(default_factory=tuple)
