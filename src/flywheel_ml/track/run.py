"""The handle of a run being logged: metrics, params, tags, datasets, seeds, artifacts, models.

``log_metric`` validates the name once per name and the value every time, then appends to the
process's :class:`~flywheel_ml.track.buffer.MetricBuffer`; it never waits for the database.

NaN and infinity policy: metric values must be finite. ``log_metric`` raises
:class:`~flywheel_ml.errors.InvalidInputError` for NaN or ±inf (SQLite cannot store NaN, and a
diverged loss is better recorded explicitly, e.g. ``run.set_tag("diverged", "true")``); nothing
of that call is logged. Start the run with ``skip_nonfinite=True`` to drop such points silently
and count them in the tag ``nonfinite_skipped`` instead.
"""

from __future__ import annotations

import math
import os
import random
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from flywheel_ml.core.clock import utc_now
from flywheel_ml.errors import ConflictError, InvalidInputError, NotFoundError
from flywheel_ml.track.buffer import MetricBuffer
from flywheel_ml.track.entities import Artifact
from flywheel_ml.track.models import dump_state, save_model
from flywheel_ml.track.names import check_name, check_params, check_tags

if TYPE_CHECKING:
    from flywheel_ml.track.sessions import RunSessions

_MAX_ARTIFACT_NAME = 300
_OPEN: list[ActiveRun] = []


def current_run() -> ActiveRun | None:
    """The run most recently started (or attached) in this process and not yet ended."""
    return _OPEN[-1] if _OPEN else None


class ActiveRun:
    """A run being logged; use it as a context manager (made by ``ws.track.start_run``).

    On a clean exit the run ends ``finished``; on an exception ``failed`` (``killed`` for
    Ctrl-C); every queued point is flushed first either way. A run attached to one started by
    ``flywheel run`` (``FLYWHEEL_RUN_ID``) is flushed but not ended: the wrapper ends it with the
    script's exit status.
    """

    def __init__(
        self,
        sessions: RunSessions,
        buffer: MetricBuffer,
        *,
        run_id: str,
        name: str,
        owns: bool,
        skip_nonfinite: bool = False,
    ) -> None:
        self._sessions = sessions
        self._buffer = buffer
        self._append = buffer.append
        self.id = run_id
        self.name = name
        self._owns = owns
        self._skip_nonfinite = skip_nonfinite
        self._skipped = 0
        self._keys: set[str] = set()
        self._next_step: dict[str, int] = {}
        self._series: dict[str, tuple[str, str]] = {}
        self._ended = False
        _OPEN.append(self)

    # -- metrics (hot path) -------------------------------------------------------------------

    def log_metric(self, key: str, value: float, *, step: int | None = None) -> None:
        """Queue one point; ``step`` defaults to one more than this key's previous step.

        Raises:
            InvalidInputError: a bad name, a non-number, or NaN/inf (see the module docstring).
            ConflictError: the run has ended.
        """
        if key not in self._keys:
            self._first_use(key)
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = _as_number(key, value)  # raises the error that says what is wrong
        if number - number != 0.0:  # NaN or ±inf, without a function call
            if self._skip_nonfinite:
                self._skipped += 1
                return
            raise InvalidInputError(
                f"metric {key!r} got {number} at step {step}; metrics must be finite",
                hint="record divergence as a tag (run.set_tag('diverged', 'true')) or start "
                "the run with skip_nonfinite=True",
            )
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = (self.id, key)
        if step is None:
            step = self._next_step.get(key, 0)
        self._next_step[key] = step + 1
        self._append(series, step, number, time.time())

    def log_metrics(self, metrics: Mapping[str, float], *, step: int | None = None) -> None:
        """Queue one point per metric, all at ``step`` (or each key's next step).

        Every value is checked before any is queued, so a bad one queues nothing.
        """
        checked = []
        for key, value in metrics.items():
            if key not in self._keys:
                self._first_use(key)
            number = _as_number(key, value)
            if not math.isfinite(number):
                if self._skip_nonfinite:
                    self._skipped += 1
                    continue
                raise InvalidInputError(
                    f"metric {key!r} got {number}; metrics must be finite",
                    hint="record divergence as a tag or start the run with skip_nonfinite=True",
                )
            checked.append((key, number))
        points = []
        next_step, series_of = self._next_step, self._series
        for key, number in checked:
            at = next_step.get(key, 0) if step is None else step
            next_step[key] = at + 1
            series = series_of.get(key)
            if series is None:
                series = series_of[key] = (self.id, key)
            points.append((series, at, number))
        self._buffer.append_many(points, time.time())

    def log_batch(
        self, key: str, values: Sequence[float], *, steps: Sequence[int] | None = None
    ) -> None:
        """Queue many points of one metric at once (steps default to the next ones in order).

        Every value is checked before any is queued.
        """
        if key not in self._keys:
            self._first_use(key)
        numbers = [float(v) for v in values]
        if not all(math.isfinite(v) for v in numbers):
            if not self._skip_nonfinite:
                raise InvalidInputError(
                    f"metric {key!r} got a NaN or infinite value; metrics must be finite",
                    hint="filter them out or start the run with skip_nonfinite=True",
                )
            kept = [i for i, v in enumerate(numbers) if math.isfinite(v)]
            self._skipped += len(numbers) - len(kept)
            numbers = [numbers[i] for i in kept]
            steps = None if steps is None else [steps[i] for i in kept]
        if steps is None:
            first = self._next_step.get(key, 0)
            step_list = list(range(first, first + len(numbers)))
        else:
            step_list = [int(s) for s in steps]
            if len(step_list) != len(numbers):
                raise InvalidInputError(
                    f"log_batch got {len(numbers)} values and {len(step_list)} steps",
                    hint="give one step per value, or none",
                )
        if not step_list:
            return
        self._next_step[key] = max(step_list) + 1
        self._buffer.extend((self.id, key), step_list, numbers, time.time())

    def _first_use(self, key: str) -> None:
        if self._ended:
            raise ConflictError(
                f"run {self.id[-8:]} has ended; cannot log {key!r}",
                hint="start a new run with ws.track.start_run()",
            )
        check_name(key, what="metric")
        self._keys.add(key)

    def flush(self) -> None:
        """Commit every queued point; when it returns they survive ``kill -9``."""
        self._buffer.flush()

    # -- params, tags, datasets, seeds ---------------------------------------------------------

    def log_param(self, key: str, value: object) -> None:
        """Record one parameter (a later value replaces an earlier one)."""
        self.log_params({key: value})

    def log_params(self, params: Mapping[str, object]) -> None:
        """Record parameters; all are validated before any is written."""
        self._check_open()
        self._sessions.store.update_run(self.id, params=check_params(params))

    def set_tag(self, key: str, value: object) -> None:
        """Set one tag."""
        self.set_tags({key: value})

    def set_tags(self, tags: Mapping[str, object]) -> None:
        """Set tags; all are validated before any is written."""
        self._check_open()
        self._sessions.store.update_run(self.id, tags=check_tags(tags))

    def use_dataset(self, ref: str) -> str:
        """Record that this run used a dataset version; returns the reference as recorded.

        ``ref`` is ``name@vN`` or ``name`` (resolved to its newest version when the data stage
        is there).
        """
        self._check_open()
        resolved, name = self._sessions.resolve_dataset(ref)
        self._sessions.store.update_run(self.id, datasets=[(resolved, name)])
        return resolved

    def seed_everything(self, seed: int) -> int:
        """Seed Python's ``random``, numpy (and torch when imported) and record the seed.

        ``PYTHONHASHSEED`` is set for child processes (this process's hashing is fixed at
        start-up).
        """
        self._check_open()
        if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**32:
            raise InvalidInputError(
                f"seed must be an integer in [0, 2**32), not {seed!r}", hint="e.g. 42"
            )
        seed_generators(seed)
        self._sessions.store.update_run(self.id, seed=seed)
        return seed

    # -- artifacts and models ------------------------------------------------------------------

    def log_artifact(
        self, path: str | os.PathLike[str], *, name: str | None = None, kind: str = "file"
    ) -> Artifact:
        """Keep a file with the run (content-addressed; the same bytes are stored once).

        Raises:
            NotFoundError: ``path`` is not a file.
            InvalidInputError: a bad artifact name.
        """
        self._check_open()
        source = Path(path)
        if not source.is_file():
            raise NotFoundError(f"no file {source}", hint="pass the path of an existing file")
        artifact_name = _artifact_name(name or source.name)
        digest = self._sessions.objects.put_file(source)
        artifact = Artifact(
            name=artifact_name,
            kind=kind,
            digest=digest,
            size=source.stat().st_size,
            created_at=utc_now(),
        )
        self._sessions.store.add_artifact(self.id, artifact)
        return artifact

    def log_bytes(
        self,
        name: str,
        data: bytes,
        *,
        kind: str = "file",
        meta: Mapping[str, object] | None = None,
    ) -> Artifact:
        """Keep bytes with the run under ``name``."""
        self._check_open()
        artifact_name = _artifact_name(name)
        digest = self._sessions.objects.put_bytes(data)
        artifact = Artifact(
            name=artifact_name,
            kind=kind,
            digest=digest,
            size=len(data),
            created_at=utc_now(),
            meta=dict(meta or {}),
        )
        self._sessions.store.add_artifact(self.id, artifact)
        return artifact

    def log_text(self, name: str, text: str, *, kind: str = "file") -> Artifact:
        """Keep a text with the run under ``name`` (UTF-8)."""
        return self.log_bytes(name, text.encode(), kind=kind)

    def checkpoint(self, state: object, *, step: int) -> Artifact:
        """Keep a training state at ``step`` (artifact ``checkpoints/step-NNNNNNNN``, skops, no
        pickle); resume from it with ``ws.track.load_checkpoint(run_id)``.

        Raises:
            InvalidInputError: a negative step or a state skops cannot save.
        """
        if not isinstance(step, int) or isinstance(step, bool) or step < 0:
            raise InvalidInputError(f"checkpoint step must be >= 0, not {step!r}", hint="step=3")
        data = dump_state(state)
        return self.log_bytes(
            f"checkpoints/step-{step:08d}", data, kind="checkpoint", meta={"step": step}
        )

    def log_model(self, model: object, *, name: str = "model") -> Artifact:
        """Save a scikit-learn model with skops and keep it as the artifact ``name``.

        Also logs the metric ``model_mb`` (the file's size). Load it back with
        ``ws.track.load_model(run_id)`` or :func:`flywheel_ml.track.load_model`.
        """
        saved = save_model(model)
        artifact = self.log_bytes(name, saved.data, kind="model", meta=saved.meta)
        self.log_metric("model_mb", len(saved.data) / 1e6, step=0)
        return artifact

    # -- life cycle ----------------------------------------------------------------------------

    def end(self, status: str = "finished") -> None:
        """Flush and end the run with ``status`` (finished, failed or killed); idempotent."""
        if self._ended:
            return
        self._ended = True
        self._keys.clear()  # the next log_metric takes the slow path, which refuses
        if self in _OPEN:
            _OPEN.remove(self)
        try:
            if self._skipped:
                self._sessions.store.update_run(
                    self.id, tags={"nonfinite_skipped": str(self._skipped)}
                )
        finally:
            self._sessions.release(self, status=status if self._owns else None)

    def _check_open(self) -> None:
        if self._ended:
            raise ConflictError(
                f"run {self.id[-8:]} has ended", hint="start a new run with ws.track.start_run()"
            )

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.end("finished")
        elif issubclass(exc_type, KeyboardInterrupt):
            self.end("killed")
        else:
            self.end("failed")

    def __repr__(self) -> str:
        return f"ActiveRun(id={self.id!r}, name={self.name!r})"


def _as_number(key: str, value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InvalidInputError(
            f"metric {key!r} got {value!r}, not a number", hint="log floats or ints"
        ) from None


def seed_generators(seed: int) -> None:
    """Seed Python's ``random``, numpy and torch (when imported); set ``PYTHONHASHSEED`` for
    child processes. Records nothing (``seed`` must already be checked)."""
    random.seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed(seed)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(seed)


def _artifact_name(name: str) -> str:
    parts = name.split("/")
    if (
        not name
        or len(name) > _MAX_ARTIFACT_NAME
        or name.startswith("/")
        or "\\" in name
        or any(p in ("", ".", "..") for p in parts)
        or any(ord(c) < 32 for c in name)
    ):
        raise InvalidInputError(
            f"invalid artifact name {name[:80]!r}",
            hint="use a relative name such as 'plots/confusion.png' (no '..', no leading '/')",
        )
    return name
