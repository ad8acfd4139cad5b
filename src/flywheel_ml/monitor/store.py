"""What the monitor stage needs from persistence."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from flywheel_ml.monitor.entities import (
    Alert,
    DelayedLabel,
    Rule,
    RuleEvaluation,
    StoredBinning,
    Turn,
)


class MonitorStore(Protocol):
    """Rules, their evaluation history, alerts, reference binnings and delayed labels."""

    def add_rule(self, rule: Rule) -> None:
        """Store a new rule."""
        ...

    def get_rule(self, rule_id: str) -> Rule | None:
        """The rule with this id (or id prefix of at least 6 characters), or None."""
        ...

    def list_rules(self) -> list[Rule]:
        """Every rule, oldest first."""
        ...

    def delete_rule(self, rule_id: str) -> bool:
        """Delete a rule (its history stays); False when there was none."""
        ...

    def record_check(self, evaluations: Sequence[RuleEvaluation], alerts: Sequence[Alert]) -> None:
        """Store one check's evaluations and fired alerts in one transaction."""
        ...

    def list_evaluations(
        self, *, rule_id: str | None = None, limit: int = 100
    ) -> list[RuleEvaluation]:
        """Evaluations, newest first."""
        ...

    def list_alerts(self, *, model: str | None = None, limit: int = 100) -> list[Alert]:
        """Fired alerts, newest first."""
        ...

    def get_binning(self, reference_digest: str, columns_key: str) -> StoredBinning | None:
        """The stored binning of a reference for these columns, or None."""
        ...

    def put_binning(self, binning: StoredBinning) -> None:
        """Remember a binning (a second put of the same key keeps the first)."""
        ...

    def add_labels(self, labels: Sequence[DelayedLabel]) -> int:
        """Store delayed labels (a later label for the same request row replaces it); count."""
        ...

    def get_labels(self, request_ids: Sequence[str]) -> list[DelayedLabel]:
        """The delayed labels of these requests."""
        ...

    def count_labels(self) -> int:
        """How many delayed labels are stored."""
        ...

    def save_turn(self, turn: Turn) -> None:
        """Store a turn, replacing the earlier record of the same id."""
        ...

    def list_turns(self, *, model: str | None = None, limit: int = 50) -> list[Turn]:
        """Turns, newest first."""
        ...
