"""Optuna's journal storage over the tune store, so studies live in the workspace database.

Optuna's ``JournalStorage`` keeps a study as an append-only log and replays it; the backend only
has to read from an offset and append atomically. :class:`StoreJournal` does both through the
:class:`~flywheel_ml.tune.store.TuneStore`, so SQLite and PostgreSQL work alike and concurrent
workers (processes, Dask) share one study without "database is locked" errors or lost trials.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from flywheel_ml.tune.store import TuneStore

if TYPE_CHECKING:
    from optuna.storages import JournalStorage


def journal_storage(store: TuneStore) -> JournalStorage:
    """An Optuna storage that keeps its journal in ``store``."""
    from optuna.storages import JournalStorage
    from optuna.storages.journal import BaseJournalBackend

    class StoreJournal(BaseJournalBackend):
        def read_logs(self, log_number_from: int) -> Iterable[dict[str, Any]]:
            return store.read_journal(log_number_from)

        def append_logs(self, logs: list[dict[str, Any]]) -> None:
            store.append_journal(logs)

    return JournalStorage(StoreJournal())
