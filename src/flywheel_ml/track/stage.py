"""The track stage's verbs: start runs, read them back, query, compare, rank, delete, restore.

>>> with ws.track.start_run(name="lr", params={"C": 1.0}) as run:    # doctest: +SKIP
...     run.log_metric("loss", 0.3, step=0)
>>> ws.track.list_runs(where="params.C < 10", order_by="-metrics.val_accuracy")  # doctest: +SKIP
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from flywheel_ml.core.clock import utc_now
from flywheel_ml.core.lifecycle import Deliverable
from flywheel_ml.core.objects import ObjectStore
from flywheel_ml.errors import ConflictError, InvalidInputError, NotFoundError
from flywheel_ml.plan.entities import ProjectPage
from flywheel_ml.track.entities import Artifact, Comparison, LeaderboardEntry, MetricSeries, Run
from flywheel_ml.track.leaderboard import (
    Ranking,
    compare_runs,
    leaderboard_entry,
    page_keys,
    rank_values,
)
from flywheel_ml.track.lineage import process_alive, this_host
from flywheel_ml.track.models import load_model, load_state
from flywheel_ml.track.query import RunQuery, parse_query
from flywheel_ml.track.run import ActiveRun
from flywheel_ml.track.sessions import RUN_ID_ENV, RunSessions
from flywheel_ml.track.store import TrackStore

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["RUN_ID_ENV", "TrackStage"]

_STALE_AFTER_S = 120.0
_RANKINGS_KEPT = 8


class TrackStage:
    """Experiment tracking for one workspace.

    Args:
        store: where runs live.
        objects: where artifacts and models are kept.
        page: returns the current project page (for the leaderboard).
        resolve_dataset: turns ``name`` or ``name@vN`` into the canonical ``name@vN`` and raises
            ``NotFoundError`` for an unknown dataset; None accepts any well-formed reference.
        buffer_options: keyword arguments for :class:`MetricBuffer` (batch size, capacity...).
    """

    def __init__(
        self,
        store: TrackStore,
        *,
        objects: ObjectStore,
        page: Callable[[], ProjectPage],
        resolve_dataset: Callable[[str], str] | None = None,
        buffer_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.store = store
        self.objects = objects
        self._page = page
        self._rankings: dict[tuple[object, ...], Ranking] = {}
        self.sessions = RunSessions(
            store, objects=objects, resolve_dataset=resolve_dataset, buffer_options=buffer_options
        )

    def start_run(
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
        """Start a run (or attach to one) and return its logging handle.

        Lineage (git commit and diff digest, Python, installed packages, host, user, command,
        working folder) is recorded automatically; the diff and the package list are kept as
        artifacts ``lineage/git.diff`` and ``lineage/packages.txt``. Everything is validated
        before the run is created, so bad input creates nothing.

        Args:
            name: display name (default ``run-<id prefix>``).
            params / tags: recorded at start.
            seed: calls ``run.seed_everything(seed)``.
            datasets: dataset references used (``name@vN``).
            run_id: attach to this existing running run instead of creating one; defaults to
                ``FLYWHEEL_RUN_ID`` (set by ``flywheel run``). An attached run is not ended by
                the handle.
            command: the command line to record (default ``sys.argv``).
            skip_nonfinite: drop NaN/inf metric values instead of raising.

        Raises:
            InvalidInputError: bad names, values, seed or dataset reference.
            NotFoundError: ``run_id`` (or ``FLYWHEEL_RUN_ID``) names no run, or an unknown dataset.
            ConflictError: the run to attach to has ended.
        """
        return self.sessions.start(
            name,
            params=params,
            tags=tags,
            seed=seed,
            datasets=datasets,
            run_id=run_id,
            command=command,
            skip_nonfinite=skip_nonfinite,
        )

    def flush(self) -> None:
        """Commit every queued metric point of this process."""
        self.sessions.flush()

    def close(self, *, status: str = "finished") -> None:
        """End every run still open in this process with ``status`` and stop the flusher."""
        self.sessions.close(status=status)

    # -- reading -------------------------------------------------------------------------------

    def get_run(self, run_id: str) -> Run:
        """The run with this id, or the unique run whose id starts or ends with ``run_id``
        (at least 4 hex characters; lists show the last 8).

        Raises:
            NotFoundError: no run matches.
            InvalidInputError: the prefix matches several runs or is too short.
        """
        self.reap_crashed()
        return self._get(run_id)

    def _get(self, run_id: str) -> Run:
        run_id = run_id.strip().lower()
        run = self.store.get_run(run_id) if len(run_id) == 32 else None
        if run is not None:
            return run
        if len(run_id) < 4 or not re.fullmatch(r"[0-9a-f]+", run_id):
            raise NotFoundError(
                f"no run {run_id!r}", hint="give a run id or its last 8 characters (as lists show)"
            )
        matches = self.store.match_ids(run_id, limit=2)
        if not matches:
            raise NotFoundError(f"no run {run_id!r}", hint="list runs with `flywheel track list`")
        if len(matches) > 1:
            raise InvalidInputError(f"{run_id!r} matches several runs", hint="give more characters")
        found = self.store.get_run(matches[0])
        assert found is not None
        return found

    def list_runs(
        self,
        where: str | None = None,
        *,
        order_by: str | None = None,
        limit: int | None = None,
        offset: int = 0,
        include_deleted: bool = False,
        only_deleted: bool = False,
    ) -> list[Run]:
        """Runs matching the filter (see :mod:`flywheel_ml.track.query` for the grammar).

        Newest first unless ``order_by`` is given (``-`` prefix for descending).

        Raises:
            InvalidInputError: a malformed filter or sort key.
        """
        query = parse_query(
            where,
            order_by=order_by,
            limit=limit,
            offset=offset,
            include_deleted=include_deleted,
            only_deleted=only_deleted,
        )
        self.reap_crashed()
        return self.store.list_runs(query)

    def count_runs(self, where: str | None = None, *, include_deleted: bool = False) -> int:
        """How many runs match the filter."""
        return self.store.count_runs(parse_query(where, include_deleted=include_deleted))

    def query(self, query: RunQuery) -> list[Run]:
        """Runs matching an already parsed query."""
        self.reap_crashed()
        return self.store.list_runs(query)

    def metric_series(self, run_id: str, key: str) -> MetricSeries:
        """Every point of one metric of a run, as lists (step order)."""
        run = self._get(run_id)
        return self.store.metric_series(run.id, key)

    def metric_history(self, run_id: str, key: str) -> pd.DataFrame:
        """Every point of one metric: a DataFrame with columns ``step``, ``value``, ``time``
        (UTC timestamps), in step order."""
        import numpy as np
        import pandas as pd

        series = self.metric_series(run_id, key)
        micros = (series.times * 1e6).astype(np.int64)
        return pd.DataFrame(
            {
                "step": series.steps,
                "value": series.values,
                "time": pd.to_datetime(micros, unit="us", utc=True),
            }
        )

    def list_artifacts(self, run_id: str) -> list[Artifact]:
        """The artifacts of a run, by name."""
        return self.store.list_artifacts(self._get(run_id).id)

    def artifact(self, run_id: str, name: str) -> Artifact:
        """One artifact of a run.

        Raises:
            NotFoundError: the run has no artifact of that name.
        """
        run = self._get(run_id)
        for artifact in self.store.list_artifacts(run.id):
            if artifact.name == name:
                return artifact
        raise NotFoundError(
            f"run {run.short_id} has no artifact {name!r}",
            hint=f"see its artifacts with `flywheel track show {run.short_id}`",
        )

    def load_model(
        self,
        run_id: str,
        *,
        name: str = "model",
        trusted: Sequence[str] = (),
        trust_sklearn: bool = True,
    ) -> Any:
        """Load the model a run logged with ``run.log_model`` (see
        :func:`flywheel_ml.track.load_model` for the safety rules)."""
        artifact = self.artifact(run_id, name)
        if artifact.kind != "model":
            raise InvalidInputError(
                f"artifact {name!r} is a {artifact.kind}, not a model",
                hint="name an artifact logged with run.log_model",
            )
        return load_model(
            artifact.digest, objects=self.objects, trusted=trusted, trust_sklearn=trust_sklearn
        )

    def load_checkpoint(
        self, run_id: str, *, step: int | None = None, trusted: Sequence[str] = ()
    ) -> tuple[Any, int]:
        """``(state, step)`` of a run's newest checkpoint (or the one at ``step``), to resume
        training from it.

        Raises:
            NotFoundError: the run has no (such) checkpoint.
        """
        run = self._get(run_id)
        found = [a for a in self.store.list_artifacts(run.id) if a.kind == "checkpoint"]
        if step is not None:
            found = [a for a in found if a.meta.get("step") == step]
        if not found:
            raise NotFoundError(
                f"run {run.short_id} has no checkpoint"
                + ("" if step is None else f" at step {step}"),
                hint="write them with run.checkpoint(state, step=...)",
            )
        newest = max(found, key=lambda a: int(str(a.meta.get("step", 0))))
        state = load_state(self.objects.get_bytes(newest.digest), trusted=trusted)
        return state, int(str(newest.meta.get("step", 0)))

    def compare(self, run_ids: Sequence[str], *, differing_only: bool = False) -> Comparison:
        """Runs side by side: params, latest metrics and the lineage fields that differ.

        Raises:
            InvalidInputError: fewer than two runs.
        """
        if len(run_ids) < 2:
            raise InvalidInputError("compare needs at least two runs", hint="give two run ids")
        return compare_runs([self.get_run(r) for r in run_ids], differing_only=differing_only)

    def ranking(self, where: str | None = None, *, metric_prefix: str | None = None) -> Ranking:
        """Every run matching ``where`` ranked by the project objective (see
        :func:`flywheel_ml.track.leaderboard.rank_values`), without building the runs.

        The result is kept until the store's change token moves (any write, by any process),
        so a repeated view costs one small query; stores without a token rank every time.

        Raises:
            InvalidInputError: the project page has no objective, or a malformed filter.
        """
        page = self._page()
        if page.objective is None:
            raise InvalidInputError(
                "the project page has no objective to rank runs by",
                hint="set one with `flywheel plan set --objective 'accuracy max'`",
            )
        query = parse_query(where)
        self.reap_crashed()
        token = self.store.change_token()
        key = (token, where, metric_prefix, page.objective, page.constraints)
        cached = self._rankings.get(key) if token is not None else None
        if cached is not None:
            return cached
        wanted = sorted(
            {k for ks in page_keys(page, metric_prefix=metric_prefix).values() for k in ks}
        )
        ranking = rank_values(
            self.store.ranking_values(query, wanted), page, metric_prefix=metric_prefix
        )
        if token is not None:
            if len(self._rankings) >= _RANKINGS_KEPT:
                self._rankings.clear()  # older tokens are dead anyway
            self._rankings[key] = ranking
        return ranking

    def leaderboard(
        self,
        where: str | None = None,
        *,
        metric_prefix: str | None = None,
        limit: int | None = None,
        ranking: Ranking | None = None,
    ) -> list[LeaderboardEntry]:
        """Runs ranked by the project objective; those that meet every constraint first.

        The objective and constraints come from the project page. A metric ``m`` is looked up
        in a run as ``<metric_prefix>m``; without a prefix as ``m``, then ``val_m``. Only the
        ``limit`` runs returned are built, so ranking 10,000 runs for a top 20 stays cheap.

        Args:
            ranking: an already computed :meth:`ranking` of the same arguments, to reuse.

        Raises:
            InvalidInputError: the project page has no objective, or a malformed filter.
        """
        if ranking is None:
            ranking = self.ranking(where, metric_prefix=metric_prefix)
        shown = ranking.ranked if limit is None else ranking.ranked[:limit]
        runs = self.store.get_runs([run_id for run_id, _found in shown])
        page = self._page()
        return [
            leaderboard_entry(rank, runs[run_id], found, page)
            for rank, (run_id, found) in enumerate(shown, start=1)
            if run_id in runs  # deleted between the two reads: left out, not an error
        ]

    # -- housekeeping --------------------------------------------------------------------------

    def delete_run(self, run_id: str) -> Run:
        """Hide a run from lists and the leaderboard (restorable with :meth:`restore_run`)."""
        run = self._get(run_id)
        if run.deleted:
            raise ConflictError(f"run {run.short_id} is already deleted", hint="nothing to do")
        self.store.set_deleted(run.id, deleted=True, at=utc_now())
        return self._get(run.id)

    def restore_run(self, run_id: str) -> Run:
        """Bring a deleted run back."""
        run = self._get(run_id)
        if not run.deleted:
            raise ConflictError(f"run {run.short_id} is not deleted", hint="nothing to do")
        self.store.set_deleted(run.id, deleted=False, at=utc_now())
        return self._get(run.id)

    def reap_crashed(self, *, stale_after_s: float = _STALE_AFTER_S) -> list[str]:
        """Mark as crashed every running run whose process is gone.

        On this host a run's process is checked directly (pid and start time); a run from
        another host is crashed when its heartbeat is older than ``stale_after_s``.
        """
        live = self.store.live_runs()
        if not live:
            return []
        mine = self.sessions.active_ids()
        host = this_host()
        cutoff = utc_now() - timedelta(seconds=stale_after_s)
        dead = [
            r.id
            for r in live
            if r.id not in mine
            and (not process_alive(r.process) if r.host == host else r.heartbeat_at < cutoff)
        ]
        if dead:
            self.store.mark_crashed(dead, at=utc_now())
        return dead

    def deliverables(self) -> tuple[Deliverable, ...]:
        """The track stage's evidence for ``status``."""
        total = self.store.count_runs(RunQuery())
        if total == 0:
            return (
                Deliverable(
                    "runs with params, curves, artifacts, lineage",
                    False,
                    next_step="flywheel run -- python train.py",
                ),
            )
        finished = self.store.count_runs(parse_query("status = finished"))
        latest = self.store.list_runs(RunQuery(limit=1))[0]
        evidence = (
            f"{total} run(s), {finished} finished; latest {latest.name} ({latest.short_id}) "
            f"{latest.started_at:%Y-%m-%d %H:%M}"
        )
        return (Deliverable("runs with params, curves, artifacts, lineage", True, evidence),)
