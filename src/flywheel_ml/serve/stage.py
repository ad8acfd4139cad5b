"""The serve stage's verbs: deploy, canary, shadow, promote, rollback, status, the log."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from flywheel_ml.core.clock import utc_now
from flywheel_ml.core.events import EventLog
from flywheel_ml.core.identity import current_actor
from flywheel_ml.core.lifecycle import Deliverable
from flywheel_ml.errors import NotFoundError
from flywheel_ml.serve import moves
from flywheel_ml.serve.entities import (
    Deployment,
    DeploymentMove,
    Disagreement,
    MoveKind,
    ServeStatus,
    parse_ref,
)
from flywheel_ml.serve.predictors import ModelResolver
from flywheel_ml.serve.predlog import read_predictions
from flywheel_ml.serve.store import DeploymentStore

if TYPE_CHECKING:
    import pandas as pd


class GatewaySync(Protocol):
    """Makes every registered gateway apply the newest deployment state before a move returns."""

    def sync(self, seq: int) -> list[str]:
        """Wait until each running gateway serves state ``seq`` or newer.

        Returns:
            One line per gateway that could not confirm (empty when all did or none runs).
        """
        ...


class ServeStage:
    """Deployments of model versions and their prediction log.

    Args:
        store: where deployment states and moves are kept.
        resolver: loads model versions; a reference is loaded once before it goes live, so a
            version that cannot be loaded is refused before anything is written.
        log_dir: the prediction log folder (``.flywheel/predictions``).
        events: the workspace activity log.
        sync: reaches running gateways after each move (see :class:`GatewaySync`).
    """

    def __init__(
        self,
        store: DeploymentStore,
        *,
        resolver: ModelResolver,
        log_dir: Path,
        events: EventLog | None = None,
        sync: GatewaySync | None = None,
    ) -> None:
        self.store = store
        self.resolver = resolver
        self.log_dir = log_dir
        self._events = events
        self._sync = sync
        self.last_unconfirmed: list[str] = []
        """Gateways that did not confirm the last move (their poll picks it up within 0.5 s)."""

    def get(self, model: str) -> Deployment:
        """The deployment of ``model``.

        Raises:
            NotFoundError: ``model`` was never deployed.
        """
        state = self.store.get_deployment(model)
        if state is None:
            raise NotFoundError(
                f"model {model!r} is not deployed",
                hint=f"deploy it: flywheel serve deploy {model}@<version>",
            )
        return state

    def list_deployments(self) -> list[Deployment]:
        """Every deployment, by model name."""
        return self.store.list_deployments()

    def history(self, model: str) -> list[DeploymentMove]:
        """Every move of ``model``'s deployment (who, when, why, the state after), oldest first."""
        return self.store.list_moves(model)

    def deploy(self, ref: str, *, reason: str = "", actor: str | None = None) -> DeploymentMove:
        """Make ``ref`` (``name@version``) the champion of its model.

        Raises:
            InvalidInputError: ``ref`` is malformed.
            NotFoundError: the version cannot be loaded.
            ConflictError: it is the champion already.
        """
        return self._loaded_move(
            ref, lambda r: lambda s: moves.deploy(s, r), "deploy", reason, actor
        )

    def canary(
        self, ref: str, *, percent: float, reason: str = "", actor: str | None = None
    ) -> DeploymentMove:
        """Send ``percent`` percent of traffic (sticky by request key) to ``ref``."""
        return self._loaded_move(
            ref, lambda r: lambda s: moves.canary(s, r, percent=percent), "canary", reason, actor
        )

    def shadow(self, ref: str, *, reason: str = "", actor: str | None = None) -> DeploymentMove:
        """Give ``ref`` a copy of every request; its answers are logged, never returned."""
        return self._loaded_move(
            ref, lambda r: lambda s: moves.shadow(s, r), "shadow", reason, actor
        )

    def unshadow(self, model: str, *, reason: str = "", actor: str | None = None) -> DeploymentMove:
        """Stop ``model``'s shadow."""
        return self._move(model, lambda s: moves.shadow(s, None), "unshadow", reason, actor)

    def promote(self, model: str, *, reason: str = "", actor: str | None = None) -> DeploymentMove:
        """Make the canary (or the shadow) the champion; returns once gateways serve it."""
        return self._move(model, lambda s: moves.promote(s, model), "promote", reason, actor)

    def rollback(self, model: str, *, reason: str = "", actor: str | None = None) -> DeploymentMove:
        """Drop the canary, or return to the previous champion; returns once gateways obey.

        After this returns, no running gateway that confirmed (see :attr:`last_unconfirmed`)
        answers a request from a version the move removed.
        """
        return self._move(model, lambda s: moves.rollback(s, model), "rollback", reason, actor)

    def status(self, model: str, *, since: timedelta = timedelta(hours=24)) -> ServeStatus:
        """The traffic split and how often the canary and shadow disagree with the champion.

        Disagreement is measured on logged rows of the last ``since`` where both answers exist:
        the shadow's answer beside the champion's, and the champion's answer (computed on canary
        traffic for this purpose) beside the canary's.
        """
        state = self.get(model)
        traffic = {state.champion: 100.0 - state.canary_percent}
        if state.canary is not None:
            traffic[state.canary] = state.canary_percent
        log = self.read_log(since=utc_now() - since, model=model)
        found = []
        if state.canary is not None:
            rows = log[log["version"] == state.canary]
            rows = rows[rows["baseline_version"] == state.champion]
            found.append(_disagreement(state.canary, "canary", rows, "baseline_prediction"))
        if state.shadow is not None:
            rows = log[log["shadow_version"] == state.shadow]
            found.append(_disagreement(state.shadow, "shadow", rows, "shadow_prediction"))
        return ServeStatus(
            deployment=state, traffic=traffic, disagreements=tuple(found), logged_rows=len(log)
        )

    def read_log(self, *, since: datetime | None = None, model: str | None = None) -> pd.DataFrame:
        """The prediction log as a DataFrame, one row per predicted input row, oldest first.

        Columns: ts, request_id, model, version, key, row, latency_ms, features, prediction,
        probabilities, shadow_version, shadow_prediction, baseline_version, baseline_prediction.
        Rows appear once the gateway closes the part they are in (about 10 s, or at stop).
        """
        return read_predictions(self.log_dir, since=since, model=model)

    def deliverables(self) -> tuple[Deliverable, ...]:
        """The serve stage's evidence for ``status``."""
        deployments = self.list_deployments()
        if not deployments:
            return (
                Deliverable(
                    "deployment", False, next_step="flywheel serve deploy <model>@<version>"
                ),
            )
        parts = []
        for d in deployments:
            text = f"{d.champion} champion (rev {d.revision})"
            if d.canary:
                text += f", canary {d.canary} at {d.canary_percent:g}%"
            if d.shadow:
                text += f", shadow {d.shadow}"
            parts.append(text)
        log_parts = sorted(self.log_dir.glob("part-*.parquet"))
        items = [Deliverable("deployment", True, evidence="; ".join(parts))]
        if log_parts:
            newest_ms = max(int(p.name.split("-")[2]) for p in log_parts)
            newest = datetime.fromtimestamp(newest_ms / 1000, tz=UTC)
            evidence = f"{len(log_parts)} part(s), newest row {newest:%Y-%m-%d %H:%M} UTC"
            items.append(Deliverable("prediction log", True, evidence=evidence))
        else:
            items.append(Deliverable("prediction log", False, next_step="flywheel serve start"))
        return tuple(items)

    def _loaded_move(
        self,
        ref: str,
        make: Callable[[str], Callable[[Deployment | None], Deployment]],
        kind: MoveKind,
        reason: str,
        actor: str | None,
    ) -> DeploymentMove:
        """A move that puts ``ref`` live: rules first, then a load, then the write.

        What the rules refuse is refused before paying for a model load, and a version that
        cannot be loaded is refused before anything is written. An alias (``name@champion``)
        is stored as the concrete version it names now, so the deployment never moves when the
        alias does.
        """
        model = parse_ref(ref)[0]
        make(ref)(self.store.get_deployment(model))
        concrete = self.resolver.resolve(ref).version_ref
        if parse_ref(concrete)[0] != model:
            concrete = ref
        return self._move(model, make(concrete), kind, reason, actor)

    def _move(
        self,
        model: str,
        change: Callable[[Deployment | None], Deployment],
        kind: MoveKind,
        reason: str,
        actor: str | None,
    ) -> DeploymentMove:
        who = actor or current_actor()
        move = self.store.apply_move(
            model, change, kind=kind, actor=who, at=utc_now(), reason=reason
        )
        if self._events is not None:
            self._events.record(
                stage="serve",
                kind=f"deployment.{kind}",
                subject=model,
                detail={
                    "seq": move.seq,
                    "champion": move.state.champion,
                    "canary": move.state.canary,
                    "shadow": move.state.shadow,
                    "reason": reason,
                },
                actor=who,
            )
        self.last_unconfirmed = [] if self._sync is None else self._sync.sync(move.seq)
        return move


def _disagreement(ref: str, role: str, rows: pd.DataFrame, other: str) -> Disagreement:
    if rows.empty:
        return Disagreement(ref=ref, role=role, rows=0, disagree_rate=None)  # type: ignore[arg-type]
    rate = float((rows["prediction"] != rows[other]).mean())
    return Disagreement(ref=ref, role=role, rows=len(rows), disagree_rate=rate)  # type: ignore[arg-type]
