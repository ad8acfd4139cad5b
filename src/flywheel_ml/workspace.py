"""The composition root: reads settings, picks backends from URLs, builds the stages.

>>> import flywheel_ml as fw
>>> ws = fw.init_workspace("digits", name="Digit recognizer")   # doctest: +SKIP
>>> ws.plan.set(problem="...", objective="accuracy max")        # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Iterator
from functools import cached_property
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from flywheel_ml.backends.blobs import FsspecObjectStore, LocalObjectStore, open_object_store
from flywheel_ml.backends.object_verification import VerifyReport, verify_objects
from flywheel_ml.backends.sql.database import Database, open_database
from flywheel_ml.backends.sql.event_store import SqlEventLog
from flywheel_ml.backends.sql.migrate import ensure_schema
from flywheel_ml.backends.sql.plan_store import SqlPlanStore
from flywheel_ml.config import (
    PROJECT_FILE,
    STATE_DIR,
    Settings,
    find_root,
    load_settings,
    render_project_file,
)
from flywheel_ml.core.digests import Digest
from flywheel_ml.core.lifecycle import StageName, StageStatus
from flywheel_ml.errors import ConflictError, InvalidInputError
from flywheel_ml.plan.stage import PlanStage
from flywheel_ml.reports.status import EvidenceSource, collect_status

# Stages are imported when first used: a command that touches one stage does not pay for the
# imports (numpy, pandas, pyarrow, scikit-learn) of the others.
if TYPE_CHECKING:
    from flywheel_ml.analyze.stage import AnalyzeStage
    from flywheel_ml.backends.packs import PackedObjectStore
    from flywheel_ml.core.access import Access
    from flywheel_ml.data.entities import DatasetVersion
    from flywheel_ml.data.stage import DataStage
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

    def __init__(
        self, settings: Settings, database: Database, objects: LocalObjectStore | FsspecObjectStore
    ) -> None:
        self.settings = settings
        self.database = database
        self.objects = objects

    @property
    def root(self) -> Path:
        """The folder holding ``flywheel.toml``."""
        return self.settings.root

    @property
    def name(self) -> str:
        """The project's display name."""
        return self.settings.name

    @cached_property
    def events(self) -> SqlEventLog:
        """The activity log of every write."""
        return SqlEventLog(self.database)

    @cached_property
    def plan(self) -> PlanStage:
        """The project page (stage 1)."""
        return PlanStage(SqlPlanStore(self.database), default_name=self.settings.name)

    @cached_property
    def packed_objects(self) -> PackedObjectStore:
        """The object store with small batch-written objects in packs (index in the database)."""
        from flywheel_ml.backends.packs import PackedObjectStore

        return PackedObjectStore(self.objects, self.database)

    @cached_property
    def data(self) -> DataStage:
        """Dataset versions, stable splits, the sealed test set, checks, slices (stage 2)."""
        from flywheel_ml.backends.sql.data_store import SqlDataStore
        from flywheel_ml.data.stage import DataStage

        stage = DataStage(
            SqlDataStore(self.database),
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
        from flywheel_ml.backends.sql.label_store import SqlLabelStore
        from flywheel_ml.label.stage import LabelStage

        return LabelStage(
            SqlLabelStore(self.database), self.data, events=self.events,
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
        from flywheel_ml.backends.sql.track_store import SqlTrackStore
        from flywheel_ml.track.stage import TrackStage

        return TrackStage(
            SqlTrackStore(self.database),
            objects=self.objects,
            page=self.plan.get,
            resolve_dataset=lambda ref: self.data.get_version(ref).ref,
        )

    @cached_property
    def tune(self) -> TuneStage:
        """Baselines, overfit check, learning curves, diagnosis, searches (stage 5)."""
        import functools

        from flywheel_ml.backends.sql.tune_store import SqlTuneStore
        from flywheel_ml.tune.stage import TuneStage

        root, url = str(self.root), os.environ.get("FLYWHEEL_DB_URL")
        return TuneStage(
            SqlTuneStore(self.database), track=self.track, data=self.data, page=self.plan.get,
            worker_opener=lambda: functools.partial(open_tune_worker, root, url),
            labels=lambda: self.label,
        )  # fmt: skip

    @cached_property
    def registry(self) -> RegistryStage:
        """Model versions, gated sealed-test evaluation, aliases with history (stage 7)."""
        from flywheel_ml.backends.sql.registry_store import SqlRegistryStore
        from flywheel_ml.registry.stage import RegistryStage

        return RegistryStage(
            SqlRegistryStore(self.database),
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
        from flywheel_ml.backends.sql.serve_store import SqlDeploymentStore
        from flywheel_ml.serve.stage import ServeStage

        store = SqlDeploymentStore(self.database)
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
        from flywheel_ml.backends.sql.monitor_store import SqlMonitorStore
        from flywheel_ml.monitor.stage import MonitorStage

        return MonitorStage(
            SqlMonitorStore(self.database),
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
        return verify_objects(self.objects, self.packed_objects, progress=progress)

    def iter_object_digests(self) -> Iterator[Digest]:
        """Every stored object's digest, loose or packed."""
        return self.packed_objects.iter_digests()

    def close(self) -> None:
        """End the runs still open in this process, then release database connections."""
        try:
            if "track" in self.__dict__:
                self.track.close()
        finally:
            self.database.dispose()

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
        return f"Workspace({str(self.root)!r}, db={self.database.url!r})"


_WORKER_WORKSPACES: dict[tuple[str, str | None], Workspace] = {}


def open_tune_worker(root: str, db_url: str | None) -> TuneStage:
    """The tune stage of the workspace at ``root``, for a search worker in another process
    (local or a Dask worker); opened once per process. ``db_url`` is the coordinator's
    ``FLYWHEEL_DB_URL`` when it had one."""
    key = (root, db_url)
    ws = _WORKER_WORKSPACES.get(key)
    if ws is None:
        if db_url:
            os.environ["FLYWHEEL_DB_URL"] = db_url
        ws = _WORKER_WORKSPACES[key] = open_workspace(root)
    return ws.tune


def _record_dataset_in_open_run(version: DatasetVersion) -> None:
    """Lineage: a dataset loaded while a run is open in this process was used by that run."""
    import sys

    run_module = sys.modules.get("flywheel_ml.track.run")
    run = run_module.current_run() if run_module is not None else None
    if run is not None:
        run.use_dataset(version.ref)


def _connect(settings: Settings) -> Workspace:
    database = open_database(settings.db_url)
    try:
        lock = settings.state_dir / "migrate.lock" if database.is_sqlite else None
        ensure_schema(database, lock_path=lock)
        database.count_changes = True
        objects = open_object_store(settings.blob_url)
    except BaseException:
        database.dispose()
        raise
    return Workspace(settings, database, objects)


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
            f"cannot open {os.fspath(path)!r}: server URLs are not supported by this version",
            hint="pass the folder of a workspace made by `flywheel init`",
        )
    root = find_root(None if path is None else Path(path))
    return _connect(load_settings(root))


def init_workspace(path: str | os.PathLike[str] = ".", *, name: str | None = None) -> Workspace:
    """Create a workspace in ``path`` (made if missing) and open it.

    Writes ``flywheel.toml`` and ``.flywheel/``. When anything fails (an unreachable database, a bad
    URL), whatever this call created is removed again.

    Raises:
        ConflictError: ``path`` already holds a workspace.
    """
    root = Path(path).resolve()
    project_file = root / PROJECT_FILE
    if project_file.exists():
        raise ConflictError(
            f"{root} already holds a Flywheel workspace",
            hint="open it (cd into it) or choose another folder",
        )
    if root.exists() and not root.is_dir():
        raise InvalidInputError(f"{root} is a file, not a folder", hint="choose a folder path")
    # The outermost folder this call creates (mkdir(parents=True) may make several).
    created_top = next((f for f in reversed((root, *root.parents)) if not f.exists()), None)
    state = root / STATE_DIR
    created_state = not state.exists()
    try:
        state.mkdir(parents=True, exist_ok=True)
        (state / ".gitignore").write_text("*\n", encoding="utf-8")
        project_file.write_text(render_project_file(name or root.name), encoding="utf-8")
        return _connect(load_settings(root))
    except BaseException as exc:
        # Cleanup must not mask the cause (e.g. a parent of ``root`` that is a file).
        with contextlib.suppress(OSError):
            project_file.unlink(missing_ok=True)
        if created_state:
            shutil.rmtree(state, ignore_errors=True)
        if created_top is not None:
            shutil.rmtree(created_top, ignore_errors=True)
        if isinstance(exc, OSError):
            raise InvalidInputError(
                f"cannot create a workspace in {root}: {exc.strerror or exc}",
                hint="choose a folder you can write to",
            ) from exc
        raise
