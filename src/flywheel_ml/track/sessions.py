"""The runs open in this process: starting, attaching, the shared metric buffer, exit hooks.

One :class:`RunSessions` per workspace owns the process's :class:`MetricBuffer` (one flusher
thread however many runs are open) and ends open runs when the interpreter exits: ``failed``
after an uncaught exception, else ``finished``. A process killed by a signal runs no hook; its
runs are marked ``crashed`` by ``TrackStage.reap_crashed`` (its pid is gone).
"""

from __future__ import annotations

import atexit
import os
import re
import sys
import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any

from flywheel_ml.core.clock import utc_now
from flywheel_ml.core.digests import Digest
from flywheel_ml.core.ids import new_id
from flywheel_ml.core.objects import ObjectStore
from flywheel_ml.errors import ConflictError, InvalidInputError, NotFoundError
from flywheel_ml.track.buffer import MetricBuffer
from flywheel_ml.track.entities import Artifact, NewRun
from flywheel_ml.track.lineage import process_facts, process_identity, with_run_facts
from flywheel_ml.track.names import check_params, check_run_name, check_tags
from flywheel_ml.track.run import ActiveRun, seed_generators
from flywheel_ml.track.store import TrackStore

RUN_ID_ENV = "FLYWHEEL_RUN_ID"
"""Set by ``flywheel run`` for its child: ``start_run()`` in the child logs into that run."""

_DATASET_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,99}(@v[0-9]{1,9})?")
_UNCAUGHT: list[bool] = [False]
_HOOKS_INSTALLED: list[bool] = [False]
_OPEN_SESSIONS: weakref.WeakSet[RunSessions] = weakref.WeakSet()


class RunSessions:
    """Starts runs and keeps track of those open in this process.

    Args:
        store: where runs live.
        objects: where artifacts are kept.
        resolve_dataset: canonical ``name@vN`` for a reference, or None to accept any
            well-formed one.
        buffer_options: keyword arguments for :class:`MetricBuffer`.
    """

    def __init__(
        self,
        store: TrackStore,
        *,
        objects: ObjectStore,
        resolve_dataset: Callable[[str], str] | None = None,
        buffer_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.store = store
        self.objects = objects
        self._resolver = resolve_dataset
        # ``name@vN`` refs the data stage confirmed: a version is never changed or removed,
        # so a search's hundred runs on one version ask the database once, not per run.
        self._known_versions: set[str] = set()
        self._buffer_options = dict(buffer_options or {})
        self._buffer: MetricBuffer | None = None
        self._active: dict[int, ActiveRun] = {}
        self._stored: set[Digest] = set()
        self._lock = threading.Lock()

    def start(
        self,
        name: str | None = None,
        *,
        params: Mapping[str, object] | None = None,
        tags: Mapping[str, object] | None = None,
        seed: int | None = None,
        datasets: Sequence[str] = (),
        run_id: str | None = None,
        command: Sequence[str] | None = None,
        skip_nonfinite: bool = False,
    ) -> ActiveRun:
        """Start a run (or attach to one); the contract is :meth:`TrackStage.start_run`'s."""
        attach = run_id or os.environ.get(RUN_ID_ENV, "").strip()
        checked_params = check_params(params or {})
        checked_tags = check_tags(tags or {})
        resolved = [self.resolve_dataset(ref) for ref in datasets]
        if seed is not None:
            _check_seed(seed)
        if attach:
            handle = self._attach(attach, name, skip_nonfinite=skip_nonfinite)
            if checked_params or checked_tags or resolved:
                self.store.update_run(
                    handle.id, params=checked_params, tags=checked_tags, datasets=resolved
                )
            if seed is not None:
                handle.seed_everything(seed)
            return handle
        handle = self._create(
            name, checked_params, checked_tags, resolved, seed, command, skip_nonfinite
        )
        if seed is not None:
            seed_generators(seed)  # the seed is in the new run's lineage already
        return handle

    def _create(
        self,
        name: str | None,
        params: Mapping[str, tuple[str, float | None]],
        tags: Mapping[str, str],
        datasets: Sequence[tuple[str, str]],
        seed: int | None,
        command: Sequence[str] | None,
        skip_nonfinite: bool,
    ) -> ActiveRun:
        run_id = new_id()
        run_name = check_run_name(name) if name is not None else f"run-{run_id[-8:]}"
        facts = process_facts()
        lineage = with_run_facts(
            facts.lineage, seed=seed, command=None if command is None else tuple(command)
        )
        now = utc_now()
        artifacts = [
            self._lineage_artifact(
                "lineage/packages.txt", facts.packages, lineage.packages_digest, now
            )
        ]
        if facts.diff:
            artifacts.append(
                self._lineage_artifact("lineage/git.diff", facts.diff, lineage.diff_digest, now)
            )
        buffer = self._ensure_buffer()
        self.store.create_run(
            NewRun(
                id=run_id,
                name=run_name,
                params=params,
                tags=tags,
                lineage=lineage,
                created_by=lineage.user,
                host=lineage.host,
                process=process_identity(),
                started_at=now,
                datasets=tuple(datasets),
                artifacts=tuple(artifacts),
            )
        )
        return self._register(
            ActiveRun(
                self, buffer, run_id=run_id, name=run_name, owns=True, skip_nonfinite=skip_nonfinite
            )
        )

    def _attach(self, run_id: str, name: str | None, *, skip_nonfinite: bool) -> ActiveRun:
        run = self.store.get_run(run_id)
        if run is None:
            raise NotFoundError(
                f"run {run_id!r} does not exist in this workspace",
                hint=f"unset {RUN_ID_ENV} or start the script with `flywheel run -- ...` here",
            )
        if run.status != "running":
            raise ConflictError(
                f"run {run.short_id} has already ended ({run.status})",
                hint=f"unset {RUN_ID_ENV} to start a new run",
            )
        buffer = self._ensure_buffer()
        return self._register(
            ActiveRun(
                self,
                buffer,
                run_id=run.id,
                name=name or run.name,
                owns=False,
                skip_nonfinite=skip_nonfinite,
            )
        )

    def _lineage_artifact(self, name: str, data: bytes, digest: str, now: datetime) -> Artifact:
        # ``digest`` is the one lineage computed for ``data``: the bytes are hashed once per
        # process, and stored once per workspace.
        known = Digest(digest)
        if known not in self._stored:
            self.objects.put_bytes(data)
            self._stored.add(known)
        return Artifact(name=name, kind="lineage", digest=known, size=len(data), created_at=now)

    def _ensure_buffer(self) -> MetricBuffer:
        with self._lock:
            if self._buffer is None:
                self._buffer = MetricBuffer(self.store, **self._buffer_options)
                _install_exit_hooks(self)
            return self._buffer

    def _register(self, handle: ActiveRun) -> ActiveRun:
        assert self._buffer is not None
        self._buffer.watch(handle.id)
        with self._lock:
            self._active[id(handle)] = handle
        return handle

    def release(self, handle: ActiveRun, *, status: str | None) -> None:
        """Called by a handle when it ends: commit the queued points and, when ``status`` is
        given, the run's end, in one transaction; stop its heartbeat."""
        buffer = self._buffer
        with self._lock:
            self._active.pop(id(handle), None)
        if buffer is None:
            return
        buffer.unwatch(handle.id)
        if status is None:
            buffer.flush()
            return
        at = utc_now()
        buffer.flush(
            commit=lambda batch: self.store.finish_run(
                handle.id, status=status, at=at, points=batch
            )
        )

    def resolve_dataset(self, ref: str) -> tuple[str, str]:
        """``(canonical reference, dataset name)`` for ``ref``.

        Raises:
            InvalidInputError: not ``name`` or ``name@vN``.
            NotFoundError: the data stage does not know the dataset or version.
        """
        ref = ref.strip()
        if ref in self._known_versions:
            return ref, ref.split("@", 1)[0]
        asked = ref
        if self._resolver is not None:
            ref = self._resolver(ref)
            if ref == asked and "@v" in ref and _DATASET_RE.fullmatch(ref):
                self._known_versions.add(ref)
        if not _DATASET_RE.fullmatch(ref):
            raise InvalidInputError(
                f"not a dataset reference: {ref[:80]!r}", hint="write name@vN, e.g. digits@v2"
            )
        return ref, ref.split("@", 1)[0]

    def flush(self) -> None:
        """Commit every queued metric point of this process."""
        if self._buffer is not None:
            self._buffer.flush()

    def close(self, *, status: str = "finished") -> None:
        """End every run still open in this process with ``status`` and stop the flusher."""
        with self._lock:
            handles = list(self._active.values())
        for handle in handles:
            handle.end(status)
        with self._lock:
            buffer, self._buffer = self._buffer, None
        if buffer is not None:
            buffer.close()

    # -- reading -------------------------------------------------------------------------------

    def active_ids(self) -> set[str]:
        """Ids of the runs open in this process."""
        with self._lock:
            return {h.id for h in self._active.values()}


def _check_seed(seed: object) -> None:
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**32:
        raise InvalidInputError(f"seed must be an integer in [0, 2**32), not {seed!r}", hint="42")


def _install_exit_hooks(sessions: RunSessions) -> None:
    # Runs left open end when the interpreter exits: failed after an uncaught exception, else
    # finished. A process killed by a signal runs no hook; reap_crashed() marks its runs.
    if not _HOOKS_INSTALLED[0]:
        _HOOKS_INSTALLED[0] = True
        atexit.register(_end_open_runs)
        previous = sys.excepthook

        def hook(
            exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
        ) -> None:
            _UNCAUGHT[0] = True
            previous(exc_type, exc, tb)

        sys.excepthook = hook
    _OPEN_SESSIONS.add(sessions)


def _end_open_runs() -> None:
    status = "failed" if _UNCAUGHT[0] else "finished"
    for sessions in list(_OPEN_SESSIONS):
        try:
            sessions.close(status=status)
        except Exception as exc:
            print(f"flywheel: could not end runs at exit: {exc}", file=sys.stderr)
