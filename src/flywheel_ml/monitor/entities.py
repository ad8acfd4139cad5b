"""What the monitor stage records: rules, their evaluations, fired alerts, delayed labels."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flywheel_ml.core.digests import Digest


@dataclass(frozen=True, slots=True)
class Rule:
    """A stored alert rule.

    Attributes:
        id: its id.
        expression: the rule text, e.g. ``psi(feature=*) > 0.2``.
        model: the model it watches, or None for every deployed model.
        notify: where alerts go: ``log`` or ``webhook:<url>`` (several allowed).
        created_by / created_at: who added it and when.
    """

    id: str
    expression: str
    model: str | None
    notify: tuple[str, ...]
    created_by: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class RuleEvaluation:
    """One evaluation of a rule for one model.

    Attributes:
        value: the measured value (None when it could not be measured, e.g. no labels yet).
        fired: whether the condition held.
        detail: what was measured on (feature with the largest value, rows, window).
    """

    id: str
    rule_id: str
    model: str
    at: datetime
    value: float | None
    fired: bool
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Alert:
    """A fired rule and where it was sent.

    Attributes:
        message: one line saying what happened.
        deliveries: channel -> ``ok`` or the error text.
    """

    id: str
    rule_id: str
    evaluation_id: str
    model: str
    at: datetime
    message: str
    deliveries: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StoredBinning:
    """Where the binning of a reference dataset version is kept (computed once)."""

    reference_digest: str
    columns_key: str
    object_digest: Digest
    created_at: datetime


@dataclass(frozen=True, slots=True)
class DelayedLabel:
    """Ground truth that arrived after the prediction, joined to the log by request id and row."""

    request_id: str
    row: int
    label: str
    imported_at: datetime


@dataclass(frozen=True, slots=True)
class TurnStep:
    """One step of a turn: what the stage verb did."""

    step: str
    status: str
    detail: Mapping[str, Any] = field(default_factory=dict)
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Turn:
    """One turn of the flywheel: production items labelled, new data, retrained, gated, canaried.

    Attributes:
        status: ``canary`` (a new version is on canary), ``waiting`` (items queued, not yet
            labelled), ``refused`` (the gate refused the new version) or ``failed``.
        steps: every step with what it did, in order.
        objective: the objective metric's name; before/after: the champion's and the new
            version's sealed-test values (None when not measured).
        dataset_version: the new dataset version; model_version: the new model version.
    """

    id: str
    model: str
    started_at: datetime
    finished_at: datetime | None
    status: str
    steps: tuple[TurnStep, ...] = ()
    objective: str = ""
    before: float | None = None
    after: float | None = None
    dataset_version: str | None = None
    model_version: str | None = None
