"""What the tune stage persists: Optuna's journal (so trials live in the workspace database)
and one description per study."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from flywheel_ml.tune.entities import StudyInfo


class TuneStore(Protocol):
    """Storage of the tune stage; implemented in ``backends/sql/tune_store.py``."""

    def read_journal(self, from_seq: int) -> list[dict[str, Any]]:
        """Journal entries with sequence number >= ``from_seq``, in order (0 reads all)."""
        ...

    def append_journal(self, entries: Sequence[Mapping[str, Any]], *, durable: bool = True) -> None:
        """Append entries with consecutive sequence numbers, atomically; concurrent appenders
        are serialised, so a reader never sees a gap that is filled later.

        ``durable=False`` may skip waiting for the disk: a crash can lose the newest such
        appends (never one made before a durable append), and the next durable append makes
        them durable too."""
        ...

    def create_study(self, study: StudyInfo) -> bool:
        """Record a study; False (and nothing changed) when one of that name exists."""
        ...

    def get_study(self, name: str) -> StudyInfo | None:
        """The study of that name, or None."""
        ...

    def list_studies(self) -> list[StudyInfo]:
        """Every study, newest first."""
        ...

    def set_fine_space(self, name: str, space: Mapping[str, object]) -> None:
        """Keep the narrowed space of the study's fine stage."""
        ...
