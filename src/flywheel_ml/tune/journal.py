"""Optuna's journal storage over the tune store, so studies live in the workspace database.

Optuna's ``JournalStorage`` keeps a study as an append-only log and replays it; the backend only
has to read from an offset and append atomically. :class:`StoreJournal` does both through the
:class:`~flywheel_ml.tune.store.TuneStore`, so SQLite and PostgreSQL work alike and concurrent
workers (processes, Dask) share one study without "database is locked" errors or lost trials.

Only the entries that end a trial (or change a study) wait for the disk. The entries written
while a trial runs (its creation, parameters, attributes, intermediate values) are appended
without waiting: a crash can lose only the newest of them, and what they describe is a trial
still ``RUNNING``, which a resumed search fails and redoes anyway. The trial's final state is
appended durably, and that makes every entry before it durable too (the log is written in
order). A trial's bookkeeping thus costs one disk wait instead of five or more.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from flywheel_ml.tune.store import TuneStore

if TYPE_CHECKING:
    from optuna.storages import JournalStorage

# Optuna's JournalOperation codes (stable: they are what its journal files contain).
_CREATE_TRIAL, _SET_TRIAL_STATE_VALUES = 4, 6
_RUNNING_TRIAL_OPS = frozenset({5, 7, 8, 9})  # param, intermediate value, user/system attr
_RUNNING_STATES = frozenset({0, 4})  # TrialState.RUNNING, TrialState.WAITING


def needs_durability(entries: Sequence[Mapping[str, Any]]) -> bool:
    """Whether appending ``entries`` must wait for the disk: anything but the record of a
    running trial does (a trial's end, a study's creation or attributes, an enqueued trial)."""
    for entry in entries:
        op = entry.get("op_code")
        if op in _RUNNING_TRIAL_OPS:
            continue
        if op == _CREATE_TRIAL and "state" not in entry:
            continue  # a fresh trial, RUNNING from birth (a template carries its state)
        if op == _SET_TRIAL_STATE_VALUES and entry.get("state") in _RUNNING_STATES:
            continue
        return True
    return False


def journal_storage(store: TuneStore) -> JournalStorage:
    """An Optuna storage that keeps its journal in ``store``."""
    from optuna.storages import JournalStorage
    from optuna.storages.journal import BaseJournalBackend

    class StoreJournal(BaseJournalBackend):
        def read_logs(self, log_number_from: int) -> Iterable[dict[str, Any]]:
            return store.read_journal(log_number_from)

        def append_logs(self, logs: list[dict[str, Any]]) -> None:
            store.append_journal(logs, durable=needs_durability(logs))

    return JournalStorage(StoreJournal())
