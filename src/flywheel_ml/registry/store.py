"""What the registry stage needs from a backend.

Every write is one transaction. Version numbers and alias moves are decided inside it, so two
people registering or moving an alias at once never get the same number or lose a move.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from flywheel_ml.registry.entities import AliasMove, BehaviourCase, Evaluation, ModelVersion


class RegistryStore(Protocol):
    """Model versions, alias moves, evaluations and behavioural cases."""

    def add_version(self, make: Callable[[int], ModelVersion]) -> ModelVersion:
        """Store ``make(n)`` where ``n`` is one above the name's highest version (1 for the first).

        ``make`` is called inside the write transaction (perhaps more than once on retry).
        """
        ...

    def get_version(self, name: str, version: int) -> ModelVersion | None:
        """The version (deleted ones too), or None."""
        ...

    def list_versions(self, name: str | None = None) -> list[ModelVersion]:
        """Versions of one model (or all), by name then number; deleted ones included."""
        ...

    def set_deleted(self, name: str, version: int, *, at: datetime, actor: str) -> None:
        """Mark a version deleted (its row, evaluations and alias history stay)."""
        ...

    def move_alias(
        self,
        name: str,
        alias: str,
        to_version: int | None,
        *,
        actor: str,
        at: datetime,
        reason: str,
        override: bool,
    ) -> AliasMove:
        """Point ``alias`` at ``to_version`` (None removes it); append the move to its history."""
        ...

    def aliases(self, name: str) -> dict[str, int]:
        """The current aliases of a model: alias -> version."""
        ...

    def alias_history(self, name: str) -> list[AliasMove]:
        """Every alias move of a model, oldest first."""
        ...

    def add_evaluation(self, evaluation: Evaluation) -> None:
        """Keep an evaluation record."""
        ...

    def list_evaluations(
        self, name: str | None = None, version: int | None = None
    ) -> list[Evaluation]:
        """Evaluations of a model (or of one version, or all), oldest first."""
        ...

    def put_case(self, case: BehaviourCase) -> None:
        """Create or replace a behavioural case (by model and name)."""
        ...

    def list_cases(self, model: str) -> list[BehaviourCase]:
        """The behavioural cases of a model, by name."""
        ...
