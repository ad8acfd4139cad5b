"""The deployment state a gateway serves, reloaded without restart.

The gateway keeps one immutable :class:`Snapshot` (generation number, loaded deployments). A
request reads the snapshot once, when it arrives, and is counted as in flight under that
snapshot's generation until its response has been sent. :meth:`LiveState.reload` reads the newest
move ``seq`` and then every deployment from the store (so what it loads is at least that new),
loads any version not loaded yet (in a thread), swaps the snapshot, and then waits until no
request of an older generation is still in flight.

That gives the gateway's guarantee: once ``reload`` returns ``seq``, no response is sent any more
from a version that was removed by a move up to ``seq``. A deployment move (``promote``,
``rollback``, ...) calls every registered gateway's ``/v1/admin/sync`` and returns only after
each has reloaded, so when the move returns, every request already sent and every later one is
answered by a version that is still deployed. A gateway that cannot load a version of the new
state answers that model with 503 instead of falling back to the old state.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field

from flywheel_ml.errors import FlywheelError
from flywheel_ml.serve.entities import Deployment
from flywheel_ml.serve.predictors import ModelResolver, Predictor, takes_text
from flywheel_ml.serve.store import DeploymentStore


@dataclass(frozen=True, slots=True)
class LiveModel:
    """One deployment with its loaded versions."""

    state: Deployment
    predictors: Mapping[str, Predictor]
    features: tuple[str, ...]
    text_input: bool = False
    """The champion reads raw text, which the gateway does not take (it answers 422)."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What the gateway serves: the models that loaded and why the others did not."""

    generation: int
    seq: int
    models: Mapping[str, LiveModel] = field(default_factory=dict)
    broken: Mapping[str, FlywheelError] = field(default_factory=dict)


class LiveState:
    """Holds the current :class:`Snapshot` and counts requests in flight per generation."""

    def __init__(
        self, store: DeploymentStore, resolver: ModelResolver, *, drain_timeout_s: float = 30.0
    ) -> None:
        self._store = store
        self._resolver = resolver
        self.drain_timeout_s = drain_timeout_s
        self.snapshot = Snapshot(generation=0, seq=-1)
        self.inflight: dict[int, int] = {0: 0}
        self._lock = asyncio.Lock()
        self._loaded: dict[str, Predictor] = {}

    def enter(self) -> Snapshot:
        """The snapshot a new request is served from; pair with :meth:`leave`."""
        snap = self.snapshot
        self.inflight[snap.generation] = self.inflight.get(snap.generation, 0) + 1
        return snap

    def leave(self, snap: Snapshot) -> None:
        """The request that entered under ``snap`` has sent its response (or failed)."""
        self.inflight[snap.generation] -= 1

    async def reload(self, *, force: bool = False) -> int:
        """Serve the store's newest state; returns its ``seq`` once older requests are done."""
        async with self._lock:
            seq = await asyncio.to_thread(self._store.last_seq)
            if seq == self.snapshot.seq and not force:
                return seq
            deployments = await asyncio.to_thread(self._store.list_deployments)
            models, broken = await asyncio.to_thread(self._load, deployments)
            generation = self.snapshot.generation + 1
            self.inflight[generation] = 0
            self.snapshot = Snapshot(generation, seq, models, broken)
            live_refs = {r for m in models.values() for r in m.predictors}
            self._loaded = {r: p for r, p in self._loaded.items() if r in live_refs}
            await self._drain(generation)
            return seq

    def _load(
        self, deployments: list[Deployment]
    ) -> tuple[dict[str, LiveModel], dict[str, FlywheelError]]:
        models: dict[str, LiveModel] = {}
        broken: dict[str, FlywheelError] = {}
        for state in deployments:
            try:
                predictors = {ref: self._get(ref) for ref in state.live_refs}
            except FlywheelError as exc:
                broken[state.model] = exc
                continue
            champion = predictors[state.champion]
            models[state.model] = LiveModel(
                state, predictors, tuple(champion.feature_names), takes_text(champion)
            )
        return models, broken

    def _get(self, ref: str) -> Predictor:
        predictor = self._loaded.get(ref)
        if predictor is None:
            predictor = self._loaded[ref] = self._resolver.resolve(ref)
        return predictor

    async def _drain(self, generation: int) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.drain_timeout_s
        while loop.time() < deadline:
            old = [g for g in self.inflight if g < generation]
            if all(self.inflight[g] == 0 for g in old):
                for g in old:
                    del self.inflight[g]
                return
            await asyncio.sleep(0.001)
