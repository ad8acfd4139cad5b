"""Deployments: which model version answers, which one is tried on a share of traffic, which one
listens in, and every move that got them there."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from flywheel_ml.errors import InvalidInputError

MoveKind = Literal["deploy", "canary", "shadow", "promote", "rollback", "unshadow"]

_REF_RE = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]{0,99})@(?P<version>[A-Za-z0-9._-]{1,60})$"
)


def parse_ref(ref: str) -> tuple[str, str]:
    """Split a model reference ``name@version`` into its model name and version.

    Raises:
        InvalidInputError: ``ref`` is not ``<name>@<version>``.

    >>> parse_ref("digits-clf@v3")
    ('digits-clf', 'v3')
    """
    match = _REF_RE.match(ref.strip())
    if match is None:
        raise InvalidInputError(
            f"not a model reference: {ref[:120]!r}",
            hint="write <model name>@<version>, e.g. digits-clf@v3",
        )
    return match["name"], match["version"]


@dataclass(frozen=True, slots=True)
class Deployment:
    """The live state of one model's deployment.

    Attributes:
        model: the model name (the part of a reference before ``@``).
        champion: the reference that answers every request not routed to the canary.
        canary: a reference tried on ``canary_percent`` percent of traffic, or None.
        canary_percent: share of traffic (0 < p < 100) for the canary; 0 without one.
        shadow: a reference that sees a copy of all traffic; its answers are logged, never
            returned; or None.
        earlier_champions: the champions replaced by ``deploy``/``promote``, oldest first;
            ``rollback`` without a canary returns to the last one.
        revision: counts the moves of this deployment (1 after the first deploy).
        updated_at: when the last move happened.
        updated_by: who made it.
    """

    model: str
    champion: str
    canary: str | None = None
    canary_percent: float = 0.0
    shadow: str | None = None
    earlier_champions: tuple[str, ...] = ()
    revision: int = 0
    updated_at: datetime | None = None
    updated_by: str = ""

    @property
    def live_refs(self) -> tuple[str, ...]:
        """Every reference a gateway must have loaded: champion, canary, shadow."""
        refs = [self.champion, self.canary, self.shadow]
        return tuple(dict.fromkeys(r for r in refs if r is not None))


@dataclass(frozen=True, slots=True)
class DeploymentMove:
    """One change of a deployment: the state after it, who, when and why.

    Attributes:
        seq: position in the store's global sequence of moves (increasing across models).
        kind: what was done.
        state: the deployment after the move.
        reason: the human's stated reason (may be empty).
    """

    seq: int
    kind: MoveKind
    state: Deployment
    reason: str = ""

    @property
    def at(self) -> datetime | None:
        """When the move happened."""
        return self.state.updated_at

    @property
    def actor(self) -> str:
        """Who made the move."""
        return self.state.updated_by


@dataclass(frozen=True, slots=True)
class Route:
    """Where one request goes.

    Attributes:
        primary_ref: the reference whose answer is returned.
        shadow_ref: a reference that gets a copy; its answer is only logged.
        baseline_ref: when the primary is the canary, the champion, run on the same rows so the
            log can tell how often the canary disagrees; None otherwise.
    """

    primary_ref: str
    shadow_ref: str | None = None
    baseline_ref: str | None = None


@dataclass(frozen=True, slots=True)
class Disagreement:
    """How often a canary or shadow answered differently from the champion on the same rows."""

    ref: str
    role: Literal["canary", "shadow"]
    rows: int
    disagree_rate: float | None


@dataclass(frozen=True, slots=True)
class ServeStatus:
    """A deployment with its traffic split, its gateways and its measured disagreements."""

    deployment: Deployment
    traffic: dict[str, float] = field(default_factory=dict)
    disagreements: tuple[Disagreement, ...] = ()
    logged_rows: int = 0
