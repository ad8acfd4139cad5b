"""What the serve stage needs from a backend."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from flywheel_ml.serve.entities import Deployment, DeploymentMove, MoveKind


@dataclass(frozen=True, slots=True)
class GatewayRecord:
    """A running prediction gateway that deployment moves must reach before they return.

    Attributes:
        id: the gateway's id.
        url: where it listens, e.g. ``http://127.0.0.1:8000``.
        started_at: when it started.
    """

    id: str
    url: str
    started_at: datetime


class DeploymentStore(Protocol):
    """Keeps every deployment's state, its move history and the registered gateways."""

    def get_deployment(self, model: str) -> Deployment | None:
        """The current state of ``model``'s deployment, or None when never deployed."""
        ...

    def list_deployments(self) -> list[Deployment]:
        """Every deployment, by model name."""
        ...

    def apply_move(
        self,
        model: str,
        change: Callable[[Deployment | None], Deployment],
        *,
        kind: MoveKind,
        actor: str,
        at: datetime,
        reason: str = "",
    ) -> DeploymentMove:
        """Apply ``change`` to the current state atomically and record the move.

        ``change`` runs inside the write transaction (it may run more than once on retry) and
        may raise to refuse the move, which then leaves nothing behind. The saved state has
        ``revision`` one above the old one and ``updated_at``/``updated_by`` set from ``at`` and
        ``actor``; the move's ``seq`` is above every earlier move's of any model.
        """
        ...

    def list_moves(self, model: str) -> list[DeploymentMove]:
        """Every move of ``model``, oldest first."""
        ...

    def last_seq(self) -> int:
        """The ``seq`` of the newest move of any model (0 when none): a cheap change check."""
        ...

    def add_gateway(self, url: str, *, at: datetime) -> GatewayRecord:
        """Register a running gateway."""
        ...

    def remove_gateway(self, gateway_id: str) -> None:
        """Forget a gateway (it stopped); unknown ids are ignored."""
        ...

    def list_gateways(self) -> list[GatewayRecord]:
        """Every registered gateway, oldest first."""
        ...
