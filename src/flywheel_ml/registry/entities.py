"""What the registry records: model versions, alias moves, evaluations and behavioural cases."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flywheel_ml.core.digests import Digest


@dataclass(frozen=True, slots=True)
class ModelVersion:
    """One registered model version, with its lineage.

    Attributes:
        name: the model name, e.g. ``digits-clf``.
        version: 1 for the first version of the name, then 2, 3, ...
        run_id: the run that logged the model.
        dataset: the dataset version the run trained on, e.g. ``digits@v2`` ('' when unknown).
        git_commit: the commit the run's code was at ('' outside git).
        artifact_digest: the digest of the model file in the object store.
        artifact_format: how the file is saved (``skops``).
        artifact_size: the file's size in bytes.
        estimator: the model's class, e.g. ``sklearn.linear_model.LogisticRegression``.
        feature_names: the input columns in training order.
        trusted: types beyond skops' defaults that were trusted at registration.
        description: free text.
        created_by / created_at: who registered it and when.
        deleted: whether it was deleted (its evaluations and alias history are kept).
        kernel_digest: the serving kernel saved with it (see :mod:`flywheel_ml.registry.kernels`),
            or None when the model has no verified kernel.
    """

    name: str
    version: int
    run_id: str
    dataset: str
    git_commit: str
    artifact_digest: Digest
    artifact_format: str
    artifact_size: int
    estimator: str
    feature_names: tuple[str, ...]
    created_by: str
    created_at: datetime
    trusted: tuple[str, ...] = ()
    description: str = ""
    deleted: bool = False
    kernel_digest: Digest | None = None

    @property
    def ref(self) -> str:
        """The reference ``name@vN``."""
        return f"{self.name}@v{self.version}"

    @property
    def model_mb(self) -> float:
        """The size of the saved model in megabytes (10**6 bytes)."""
        return self.artifact_size / 1e6


@dataclass(frozen=True, slots=True)
class AliasMove:
    """One move of an alias: who moved it, when, from which version to which, and why.

    ``to_version`` None means the alias was removed; ``from_version`` None means it was new.
    ``override`` is set when the move went through despite a failed gate.
    """

    seq: int
    name: str
    alias: str
    from_version: int | None
    to_version: int | None
    actor: str
    at: datetime
    reason: str
    override: bool = False


@dataclass(frozen=True, slots=True)
class ConstraintResult:
    """A project constraint against the value measured on the sealed test set."""

    constraint: str
    metric: str
    measured: float | None
    passed: bool


@dataclass(frozen=True, slots=True)
class GateResult:
    """One release gate: no regression (overall or on a slice) or one behavioural case."""

    gate: str
    name: str
    passed: bool
    detail: str
    score: float | None = None
    threshold: float | None = None


@dataclass(frozen=True, slots=True)
class Evaluation:
    """A gated evaluation of a model version on the sealed test set.

    Attributes:
        id: time-ordered id.
        name / version: the model version evaluated.
        dataset: the dataset version whose test split was read.
        purpose: why the sealed labels were read (as recorded in the data audit).
        rows: how many test rows were scored.
        metrics: the objective, quality metrics and the measured constraint metrics
            (latency_p50_ms, latency_p95_ms, model_mb, coverage, throughput_rps, ...).
        slices: metrics per slice of the test split, by slice name.
        test_sets: metrics per extra test set, by its reference.
        constraints: each project constraint with its measured value and verdict.
        gates: the no-regression and behavioural gates, one result each.
        objective: the objective metric (``accuracy``), '' when the page has none.
        objective_value: the measured objective value.
        confidence: the threshold ``coverage`` was measured at.
        actor / at: who ran it and when.
    """

    id: str
    name: str
    version: int
    dataset: str
    purpose: str
    rows: int
    metrics: Mapping[str, float]
    slices: Mapping[str, Mapping[str, float]]
    test_sets: Mapping[str, Mapping[str, float]]
    constraints: tuple[ConstraintResult, ...]
    gates: tuple[GateResult, ...]
    objective: str
    objective_value: float | None
    confidence: float
    actor: str
    at: datetime
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ref(self) -> str:
        """The evaluated version's reference."""
        return f"{self.name}@v{self.version}"

    @property
    def failed(self) -> tuple[str, ...]:
        """What did not pass: constraints (``model_mb < 50``) and gates (``no_regression:all``)."""
        return tuple(
            [c.constraint for c in self.constraints if not c.passed]
            + [f"{g.gate}:{g.name}" for g in self.gates if not g.passed]
        )

    @property
    def passed(self) -> bool:
        """Whether every constraint was measured and met and every gate passed."""
        return not self.failed


@dataclass(frozen=True, slots=True)
class BehaviourCase:
    """A named, curated set of items the model must handle, with a minimum score.

    Attributes:
        model: the model name the case applies to.
        name: the case's name, e.g. ``all-black-rejected``.
        rows_digest: the object holding the items (a Parquet table of feature columns).
        rows: how many items.
        expect: a class label every item must be given, or ``reject``: the model's top
            probability must stay below the evaluation's confidence threshold (it abstains).
        min_score: the share of items (0..1) that must meet ``expect``.
        description: why the case exists.
    """

    model: str
    name: str
    rows_digest: Digest
    rows: int
    expect: str
    min_score: float
    description: str
    created_by: str
    created_at: datetime
