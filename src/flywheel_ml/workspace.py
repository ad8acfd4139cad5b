"""The composition root: reads settings, picks backends from URLs, builds the stages.

>>> import flywheel_ml as fw
>>> ws = fw.init_workspace("digits", name="Digit recognizer")   # doctest: +SKIP
>>> ws.plan.set(problem="...", objective="accuracy max")        # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from functools import cached_property
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from flywheel_ml.backends.object_verification import VerifyReport, verify_objects
from flywheel_ml.backends.sql.database import Database
from flywheel_ml.backends.stores import SqlStores, Stores, open_sql_stores
from flywheel_ml.config import (
    Settings,
    create_project,
    find_root,
    load_settings,
    login_for,
    server_to_use,
)
from flywheel_ml.core.digests import Digest
from flywheel_ml.core.lifecycle import StageName, StageStatus
from flywheel_ml.errors import InvalidInputError
from flywheel_ml.plan.stage import PlanStage
from flywheel_ml.reports.status import EvidenceSource, collect_status

# Stages are imported when first used: a command that touches one stage does not pay for the
# imports (numpy, pandas, pyarrow, scikit-learn) of the others.
if TYPE_CHECKING:
    from flywheel_ml.analyze.stage import AnalyzeStage
    from flywheel_ml.core.access import Access
    from flywheel_ml.core.events import EventLog
    from flywheel_ml.core.objects import ObjectStore
    from flywheel_ml.data.entities import DatasetVersion
    from flywheel_ml.data.stage import DataStage
    from flywheel_ml.data.store import DataObjects
    from flywheel_ml.label.stage import LabelStage, ProbaModel
    from flywheel_ml.monitor.stage import MonitorStage
    from flywheel_ml.registry.stage import RegistryStage
    from flywheel_ml.reports.readiness import ReadinessReport
    from flywheel_ml.serve.predictors import ModelResolver
    from flywheel_ml.serve.stage import ServeStage
    from flywheel_ml.track.stage import TrackStage
    from flywheel_ml.tune.stage import TuneStage


class Workspace:
    """One Flywheel project: its settings, database, object store and the nine stages.

    Open one with :func:`open_workspace` or create one with :func:`init_workspace`. Close it (or
    use it as a context manager) to release database connections.
    """

    def __init__(self, settings: Settings, stores: Stores) -> None:
        self.settings = settings
        self.stores = stores

    @property
    def is_remote(self) -> bool:
        """Whether this workspace is a client of a team server (its stores speak REST)."""
        return not isinstance(self.stores, SqlStores)

    @property
    def database(self) -> Database:
        """The SQL database (embedded workspaces and the server host only).

        Raises:
            InvalidInputError: this workspace is a client of a team server.
        """
        if isinstance(self.stores, SqlStores):
            return self.stores.database
        raise InvalidInputError(
            "this needs the workspace's database, and this workspace is a team server's client",
            hint="run it on the server host (or unset FLYWHEEL_URL to use a local workspace)",
        )

    @property
    def objects(self) -> ObjectStore:
        """The object store: artifacts, models, documents."""
        return self.stores.objects

    @property
    def root(self) -> Path:
        """The folder holding ``flywheel.toml``."""
        return self.settings.root

    @property
    def name(self) -> str:
        """The project's display name."""
        return self.settings.name

    @cached_property
    def events(self) -> EventLog:
        """The activity log of every write."""
        found: EventLog = self.stores.store("events")
        return found

    @cached_property
    def plan(self) -> PlanStage:
        """The project page (stage 1)."""
        return PlanStage(self.stores.store("plan"), default_name=self.settings.name)

    @property
    def packed_objects(self) -> DataObjects:
        """The object store of dataset items (small batch-written objects in packs)."""
        return self.stores.data_objects

    @cached_property
    def data(self) -> DataStage:
        """Dataset versions, stable splits, the sealed test set, checks, slices (stage 2)."""
        from flywheel_ml.data.stage import DataStage

        stage = DataStage(
            self.stores.store("data"),
            self.packed_objects,
            events=self.events,
            cache_path=self.settings.state_dir / "data-file-cache.json",
            docs_dir=self.root / "docs",
        )
        stage.load_listeners.append(_record_dataset_in_open_run)
        return stage

    @cached_property
    def label(self) -> LabelStage:
        """The label document, annotations, agreement, weak supervision, queues (stage 3)."""
        from flywheel_ml.label.stage import LabelStage

        return LabelStage(
            self.stores.store("label"), self.data, events=self.events,
            load_model=self._probability_model,
        )  # fmt: skip

    def _probability_model(self, ref: str) -> ProbaModel:
        """A registry model that gives class probabilities, for label queues and suspects."""
        from flywheel_ml.serve.predictors import has_proba

        predictor = self.model_resolver.resolve(ref)
        if not has_proba(predictor):
            raise InvalidInputError(
                f"model {ref} gives no class probabilities",
                hint="use a classifier with predict_proba",
            )
        return predictor  # type: ignore[return-value]

    @cached_property
    def track(self) -> TrackStage:
        """Experiment tracking: runs, metrics, artifacts, models, lineage (stage 4)."""
        from flywheel_ml.track.stage import TrackStage

        return TrackStage(
            self.stores.store("track"),
            objects=self.objects,
            page=self.plan.get,
            resolve_dataset=lambda ref: self.data.get_version(ref).ref,
        )

    @cached_property
    def tune(self) -> TuneStage:
        """Baselines, overfit check, learning curves, diagnosis, searches (stage 5)."""
        import functools

        from flywheel_ml.tune.stage import TuneStage

        root, url = str(self.root), os.environ.get("FLYWHEEL_DB_URL")
        server = self.settings.db_url if self.is_remote else None
        return TuneStage(
            self.stores.store("tune"), track=self.track, data=self.data, page=self.plan.get,
            worker_opener=lambda: functools.partial(open_tune_worker, root, url, server=server),
            labels=lambda: self.label,
        )  # fmt: skip

    @cached_property
    def registry(self) -> RegistryStage:
        """Model versions, gated sealed-test evaluation, aliases with history (stage 7)."""
        from flywheel_ml.registry.stage import RegistryStage

        return RegistryStage(
            self.stores.store("registry"),
            objects=self.objects,
            runs=self.track,
            data=self.data,
            page=self.plan.get,
            events=self.events,
        )

    @cached_property
    def analyze(self) -> AnalyzeStage:
        """Error analysis: confusion, slices, failure clusters, pipelines, features (stage 6)."""
        from flywheel_ml.analyze.stage import AnalyzeStage
        from flywheel_ml.backends.analyze_models import RegistryModelSource

        return AnalyzeStage(
            data=self.data, models=RegistryModelSource(self.registry), events=self.events,
            docs_dir=self.root / "docs",
        )  # fmt: skip

    @cached_property
    def model_resolver(self) -> ModelResolver:
        """Loads model versions by reference (``name@version``, ``name@champion``) for serve."""
        from flywheel_ml.backends.registry_resolver import RegistryModelResolver

        return RegistryModelResolver(self.registry)

    @cached_property
    def serve(self) -> ServeStage:
        """Deployments: champion, canary, shadow, rollback, prediction log (stage 8)."""
        from flywheel_ml.backends.gateway_sync import HttpGatewaySync
        from flywheel_ml.serve.stage import ServeStage

        store = self.stores.store("serve")
        return ServeStage(
            store,
            resolver=self.model_resolver,
            log_dir=self.settings.state_dir / "predictions",
            events=self.events,
            sync=HttpGatewaySync(store),
        )

    @cached_property
    def monitor(self) -> MonitorStage:
        """Drift, alert rules, staleness, live accuracy from delayed labels (stage 9)."""
        from flywheel_ml.backends.notifiers import AlertDelivery
        from flywheel_ml.monitor.stage import MonitorStage

        return MonitorStage(
            self.stores.store("monitor"),
            objects=self.objects,
            data=self.data,
            registry=self.registry,
            serve=self.serve,
            label=self.label,
            track=self.track,
            deliver=AlertDelivery(self.settings.state_dir / "alerts.log"),
            events=self.events,
        )

    @cached_property
    def access(self) -> Access:
        """Team-server users and API tokens (``flywheel server user/token``)."""
        from flywheel_ml.backends.sql.auth_store import SqlAuthStore
        from flywheel_ml.core.access import Access

        return Access(SqlAuthStore(self.database))

    def _evidence_sources(self) -> dict[StageName, EvidenceSource]:
        return {
            "plan": self.plan.deliverables,
            "data": self.data.deliverables,
            "label": self.label.deliverables,
            "track": self.track.deliverables,
            "tune": self.tune.deliverables,
            "analyze": self.analyze.deliverables,
            "registry": self.registry.deliverables,
            "serve": self.serve.deliverables,
            "monitor": self.monitor.deliverables,
        }

    def status(self) -> tuple[StageStatus, ...]:
        """The nine lifecycle stages with the evidence found for each deliverable."""
        return collect_status(self._evidence_sources())

    def readiness(
        self, ref: str, *, status: tuple[StageStatus, ...] | None = None
    ) -> ReadinessReport:
        """The ML Test Score of model version ``ref``: 28 tests judged from recorded facts.

        Args:
            status: :meth:`status` when the caller already has it (saves computing it again).

        Raises:
            NotFoundError: no such model version.
        """
        from flywheel_ml.reports.readiness import gather, judge

        facts = gather(
            ref,
            plan=self.plan.get,
            data=self.data,
            track=self.track,
            registry=self.registry,
            serve=self.serve,
            status=self.status() if status is None else status,
        )
        return judge(facts)

    def champion_readiness(
        self, *, status: tuple[StageStatus, ...] | None = None
    ) -> ReadinessReport | None:
        """The ML Test Score of the champion (of the first model, by name, that has one), or
        None when no model has a ``champion`` alias."""
        from flywheel_ml.reports.readiness import champion_ref

        ref = champion_ref(self.registry)
        return None if ref is None else self.readiness(ref, status=status)

    def verify(self, *, progress: Callable[[int], None] | None = None) -> VerifyReport:
        """Re-hash every stored object and report those whose bytes do not match their digest.

        Also deletes temporary files that killed writes left behind (older than six hours).

        Args:
            progress: called with the number of objects checked so far.
        """
        stores = self._sql_stores("flywheel verify")
        return verify_objects(stores.objects, stores.data_objects, progress=progress)

    def iter_object_digests(self) -> Iterator[Digest]:
        """Every stored object's digest, loose or packed."""
        return self._sql_stores("listing every object").data_objects.iter_digests()

    def _sql_stores(self, what: str) -> SqlStores:
        if isinstance(self.stores, SqlStores):
            return self.stores
        raise InvalidInputError(
            f"{what} runs where the objects are, and this workspace is a team server's client",
            hint="run it on the server host",
        )

    def close(self) -> None:
        """End the runs still open in this process, then release database connections."""
        try:
            if "track" in self.__dict__:
                self.track.close()
        finally:
            self.stores.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Workspace({str(self.root)!r}, stores={self.stores!r})"


_WORKER_WORKSPACES: dict[tuple[str, str | None, str | None], Workspace] = {}


def open_tune_worker(root: str, db_url: str | None, *, server: str | None = None) -> TuneStage:
    """The tune stage of the workspace at ``root``, for a search worker in another process
    (local or a Dask worker); opened once per process. ``db_url`` is the coordinator's
    ``FLYWHEEL_DB_URL`` when it had one; ``server`` the team server's URL when the coordinator
    is its client (the token is never sent with the task: the worker takes it from its own
    ``FLYWHEEL_TOKEN`` or ``flywheel login``).

    Raises:
        InvalidInputError: the worker has no token for ``server``.
    """
    key = (root, db_url, server)
    ws = _WORKER_WORKSPACES.get(key)
    if ws is None:
        if server is not None:
            ws = connect_workspace(server, token=login_for(server).token)
        else:
            if db_url:
                os.environ["FLYWHEEL_DB_URL"] = db_url
            ws = open_workspace(root)
        _WORKER_WORKSPACES[key] = ws
    return ws.tune


def _record_dataset_in_open_run(version: DatasetVersion) -> None:
    """Lineage: a dataset loaded while a run is open in this process was used by that run."""
    import sys

    run_module = sys.modules.get("flywheel_ml.track.run")
    run = run_module.current_run() if run_module is not None else None
    if run is not None:
        run.use_dataset(version.ref)


def _connect(settings: Settings) -> Workspace:
    return Workspace(settings, open_sql_stores(settings))


def open_workspace(path: str | os.PathLike[str] | None = None) -> Workspace:
    """Open the workspace at ``path``, or the one found from the current folder upwards.

    Without ``path``: ``FLYWHEEL_WORKSPACE`` when set, else the nearest folder upwards that holds a
    ``flywheel.toml`` (like git finds ``.git``). The schema is migrated on open when needed.

    Raises:
        WorkspaceNotFoundError: no project file was found.
        StoreUnavailableError: the database cannot be reached.
        SchemaTooNewError: the database belongs to a newer Flywheel.
    """
    if path is not None and "://" in os.fspath(path):
        raise InvalidInputError(
            f"cannot open {os.fspath(path)!r}: a server is opened with connect_workspace(url, "
            "token=...) or FLYWHEEL_URL",
            hint="pass the folder of a workspace made by `flywheel init`",
        )
    login = server_to_use(None if path is None else Path(path))
    if login is not None:
        return connect_workspace(login.url, token=login.token)
    root = find_root(None if path is None else Path(path))
    return _connect(load_settings(root))


def connect_workspace(url: str, *, token: str) -> Workspace:
    """The workspace a team server at ``url`` serves, as its client (every store over REST).

    The stages, the CLI and the SDK work on it as on an embedded workspace. Local caches (file
    signatures of data folders) live in ``$XDG_CACHE_HOME/flywheel/<host>``; documents are
    written under the current folder.

    Raises:
        StoreUnavailableError: the server cannot be reached.
        AuthenticationError: the token is unknown, expired or revoked.
    """
    from flywheel_ml.backends.rest import connect

    settings, stores = connect(url, token=token)
    return Workspace(settings, stores)


def init_workspace(path: str | os.PathLike[str] = ".", *, name: str | None = None) -> Workspace:
    """Create a workspace in ``path`` (made if missing) and open it.

    Writes ``flywheel.toml`` and ``.flywheel/``. When anything fails (an unreachable database, a bad
    URL), whatever this call created is removed again.

    Raises:
        ConflictError: ``path`` already holds a workspace.
    """
    root = Path(path).resolve()
    undo = create_project(root, name=name or root.name)
    try:
        return _connect(load_settings(root))
    except BaseException as exc:
        undo()
        if isinstance(exc, OSError):
            raise InvalidInputError(
                f"cannot create a workspace in {root}: {exc.strerror or exc}",
                hint="choose a folder you can write to",
            ) from exc
        raise
