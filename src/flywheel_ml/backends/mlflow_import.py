"""Import an MLflow tracking store: experiments, runs, params, metric histories, tags,
artifacts, registered models and aliases.

MLflow's SQL store is read directly with SQLAlchemy (read-only; MLflow itself is not needed).
Each MLflow run becomes one Flywheel run in ONE transaction (start, every metric point with its
step and time, end), tagged ``mlflow.run_id`` so importing again skips it, and ``mlflow.experiment``
with its experiment's name. Artifacts are copied into the object store from wherever the run's
``artifact_uri`` points (any fsspec URL; ``artifact_roots`` rewrites a prefix when the store was
copied from another machine).

Registered model versions come across only when their files hold a skops model: the version is
registered through the registry's own verb (which checks the file's types), and the MLflow
aliases are set with the reason "imported from MLflow". Pickled models are never loaded; they
are listed as skipped, with what to do instead.
"""

from __future__ import annotations

import math
import posixpath
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from flywheel_ml.backends.sql.track_store import SqlTrackStore
from flywheel_ml.core.clock import utc_now
from flywheel_ml.core.digests import digest_bytes
from flywheel_ml.core.ids import new_id
from flywheel_ml.core.objects import ObjectStore
from flywheel_ml.errors import FlywheelError, InvalidInputError, StoreUnavailableError
from flywheel_ml.registry.stage import RegistryStage
from flywheel_ml.track.entities import Artifact, Lineage, NewRun
from flywheel_ml.track.names import check_params, check_tags
from flywheel_ml.track.stage import TrackStage

_STATUS = {"FINISHED": "finished", "FAILED": "failed", "KILLED": "killed"}
"""MLflow run statuses; RUNNING and SCHEDULED runs have no live process here: ``crashed``."""

IMPORT_TAG = "mlflow.run_id"
EXPERIMENT_TAG = "mlflow.experiment"
_MODEL_FILE = "model.skops"


@dataclass(frozen=True, slots=True)
class ImportedRun:
    """One MLflow run brought across."""

    mlflow_id: str
    run_id: str
    name: str
    experiment: str
    status: str
    points: int
    artifacts: int


@dataclass(frozen=True, slots=True)
class Skipped:
    """Something not imported, and why."""

    what: str
    reason: str


@dataclass(frozen=True, slots=True)
class MlflowImportReport:
    """What :func:`import_mlflow` did."""

    runs: tuple[ImportedRun, ...] = ()
    already_imported: int = 0
    versions: tuple[tuple[str, str], ...] = ()
    """``(MLflow "name/version", Flywheel "name@vN")`` pairs."""
    aliases: tuple[str, ...] = ()
    """``name@alias`` set in the registry."""
    skipped: tuple[Skipped, ...] = field(default_factory=tuple)


def _ms(value: int | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value / 1000.0, tz=UTC)


class MlflowSource:
    """An MLflow tracking database opened read-only.

    Args:
        tracking_uri: the SQLAlchemy URL MLflow was given (``sqlite:///mlruns.db``,
            ``postgresql://...``).
        artifact_roots: ``{old prefix: new prefix}`` rewrites of artifact locations.

    Raises:
        InvalidInputError: not a database URL, or the database is not an MLflow store.
        StoreUnavailableError: the database cannot be opened.
    """

    def __init__(
        self, tracking_uri: str, *, artifact_roots: Mapping[str, str] | None = None
    ) -> None:
        self.uri = tracking_uri
        self._roots = dict(artifact_roots or {})
        try:
            url = sa.engine.make_url(tracking_uri)
        except sa.exc.ArgumentError as exc:
            raise InvalidInputError(
                f"not a database URL: {tracking_uri!r}",
                hint="pass MLflow's --backend-store-uri, e.g. sqlite:///mlruns.db",
            ) from exc
        if url.get_backend_name() == "sqlite":
            if not url.database or not _exists(url.database):
                raise InvalidInputError(
                    f"no MLflow database at {url.database!r}",
                    hint="pass the path of the mlflow.db/mlruns.db file MLflow wrote",
                )
            url = url.set(database=f"file:{url.database}?mode=ro", query={"uri": "true"})
        elif url.get_backend_name() in {"postgresql", "postgres"}:
            url = url.set(drivername="postgresql+psycopg")
        self._engine = sa.create_engine(url)
        try:
            tables = set(sa.inspect(self._engine).get_table_names())
        except sa.exc.SQLAlchemyError as exc:
            self._engine.dispose()
            raise StoreUnavailableError(
                f"cannot open the MLflow database {tracking_uri!r}: {exc.__class__.__name__}",
                hint="check the URL and that the database is reachable",
            ) from exc
        if not {"experiments", "runs", "params", "metrics", "tags"} <= tables:
            self._engine.dispose()
            raise InvalidInputError(
                f"{tracking_uri!r} is not an MLflow tracking database (no runs table)",
                hint="pass the URL of the database MLflow's tracking server writes",
            )
        self._tables = tables

    def close(self) -> None:
        """Release the database connection."""
        self._engine.dispose()

    def _rows(self, sql: str, **params: Any) -> list[tuple[Any, ...]]:
        with self._engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(sql), params)]

    def experiments(self) -> dict[str, str]:
        """Experiment id (as text) -> name."""
        return {
            str(r[0]): str(r[1]) for r in self._rows("SELECT experiment_id, name FROM experiments")
        }

    def runs(self) -> list[tuple[Any, ...]]:
        """Every run, oldest first."""
        return self._rows(
            "SELECT run_uuid, name, user_id, status, start_time, end_time, lifecycle_stage, "
            "artifact_uri, experiment_id FROM runs ORDER BY start_time, run_uuid"
        )

    def params(self, run: str) -> dict[str, str]:
        """The run's params, as MLflow keeps them (text)."""
        return {str(k): str(v) for k, v in self._rows(
            "SELECT key, value FROM params WHERE run_uuid = :r", r=run
        )}  # fmt: skip

    def tags(self, run: str) -> dict[str, str]:
        """The run's tags, MLflow's own ``mlflow.*`` ones included."""
        return {str(k): str(v) for k, v in self._rows(
            "SELECT key, value FROM tags WHERE run_uuid = :r", r=run
        )}  # fmt: skip

    def metrics(self, run: str) -> list[tuple[Any, ...]]:
        """``(key, step, value, timestamp ms, is_nan)`` of every point, in logging order."""
        return self._rows(
            "SELECT key, step, value, timestamp, is_nan FROM metrics WHERE run_uuid = :r "
            "ORDER BY key, timestamp, step",
            r=run,
        )

    def model_versions(self) -> list[tuple[Any, ...]]:
        """``(name, version, run_id, storage_location, source, description)``, by name/version."""
        if "model_versions" not in self._tables:
            return []
        return self._rows(
            "SELECT name, version, run_id, storage_location, source, description "
            "FROM model_versions ORDER BY name, version"
        )

    def aliases(self) -> list[tuple[Any, ...]]:
        """``(name, alias, version)`` of every registered-model alias."""
        if "registered_model_aliases" not in self._tables:
            return []
        return self._rows(
            "SELECT name, alias, version FROM registered_model_aliases ORDER BY name, alias"
        )

    def location(self, uri: str) -> str:
        """``uri`` with the first matching ``artifact_roots`` prefix rewritten."""
        for old, new in self._roots.items():
            if uri.startswith(old):
                return new + uri[len(old) :]
        return uri


def _exists(path: str) -> bool:
    import os

    return os.path.isfile(path)


def _files(location: str) -> Iterator[tuple[str, bytes]]:
    """``(relative path, bytes)`` of every file under an fsspec location (none if missing)."""
    import fsspec

    fs, root = fsspec.core.url_to_fs(location)
    if not fs.exists(root):
        return
    for path in sorted(fs.find(root)):
        relative = posixpath.relpath(path, root)
        with fs.open(path, "rb") as handle:
            yield relative, handle.read()


def import_mlflow(
    source: MlflowSource,
    *,
    track: TrackStage,
    store: SqlTrackStore,
    objects: ObjectStore,
    registry: RegistryStage,
    experiments: Sequence[str] = (),
    progress: Callable[[int], None] | None = None,
) -> MlflowImportReport:
    """Bring an MLflow store's runs and registered models into a workspace.

    Args:
        source: the MLflow database.
        track: the workspace's track stage (to find runs imported before).
        store: its track store (each run is written in one transaction).
        objects: its object store (artifacts).
        registry: its registry (model versions and aliases).
        experiments: only runs of these experiment names (all when empty).
        progress: called with the number of MLflow runs handled so far.
    """
    names = source.experiments()
    done = {
        run.tags[IMPORT_TAG]: run.id
        for run in track.list_runs(include_deleted=True)
        if IMPORT_TAG in run.tags
    }
    imported: list[ImportedRun] = []
    skipped: list[Skipped] = []
    already = 0
    for count, row in enumerate(source.runs(), start=1):
        mlflow_id, experiment = str(row[0]), names.get(str(row[8]), str(row[8]))
        if experiments and experiment not in experiments:
            continue
        if mlflow_id in done:
            already += 1
        elif row[6] != "active":
            skipped.append(Skipped(f"run {mlflow_id}", "deleted in MLflow"))
        else:
            try:
                result = _import_run(source, row, experiment, store=store, objects=objects)
            except FlywheelError as exc:
                skipped.append(Skipped(f"run {mlflow_id}", exc.one_line()))
            else:
                imported.append(result)
                done[mlflow_id] = result.run_id
        if progress is not None:
            progress(count)
    versions, aliases = _import_models(source, registry, store, objects, done, skipped)
    return MlflowImportReport(
        runs=tuple(imported),
        already_imported=already,
        versions=tuple(versions),
        aliases=tuple(aliases),
        skipped=tuple(skipped),
    )


def _import_run(
    source: MlflowSource,
    row: tuple[Any, ...],
    experiment: str,
    *,
    store: SqlTrackStore,
    objects: ObjectStore,
) -> ImportedRun:
    mlflow_id = str(row[0])
    tags = source.tags(mlflow_id)
    mine = {k: v for k, v in tags.items() if not k.startswith("mlflow.")}
    mine.update({IMPORT_TAG: mlflow_id, EXPERIMENT_TAG: experiment})
    started = _ms(row[4]) or utc_now()
    ended = _ms(row[5]) or started
    status = _STATUS.get(str(row[3]), "crashed")
    user = str(row[2] or tags.get("mlflow.user", ""))
    lineage = Lineage(
        git_commit=tags.get("mlflow.source.git.commit", ""),
        user=user,
        command=(tags["mlflow.source.name"],) if tags.get("mlflow.source.name") else (),
    )
    run_id = new_id()
    artifacts = []
    for relative, data in _files(source.location(str(row[7] or ""))):
        digest = objects.put_bytes(data)
        artifacts.append(
            Artifact(name=relative, kind="file", digest=digest, size=len(data), created_at=ended)
        )
    points: dict[tuple[str, str], tuple[list[int], list[float], list[float]]] = {}
    total = 0
    for key, step, value, at, is_nan in source.metrics(mlflow_id):
        number = float(value)
        if is_nan or not math.isfinite(number):
            continue  # Flywheel keeps finite points only (its NaN policy)
        columns = points.setdefault((run_id, str(key)), ([], [], []))
        columns[0].append(int(step or 0))
        columns[1].append(number)
        columns[2].append(float(at) / 1000.0)
        total += 1
    name = str(row[1] or tags.get("mlflow.runName") or f"mlflow-{mlflow_id[:8]}")[:200]
    store.import_run(
        NewRun(
            id=run_id,
            name=name,
            params=check_params(source.params(mlflow_id)),  # type: ignore[arg-type]
            tags=check_tags(mine),
            lineage=lineage,
            created_by=user or "mlflow",
            host="",
            process="mlflow-import",
            started_at=started,
            artifacts=tuple(artifacts),
        ),
        status=status,
        ended_at=ended,
        points=points,
    )
    return ImportedRun(mlflow_id, run_id, name, experiment, status, total, len(artifacts))


def _import_models(
    source: MlflowSource,
    registry: RegistryStage,
    store: SqlTrackStore,
    objects: ObjectStore,
    runs: Mapping[str, str],
    skipped: list[Skipped],
) -> tuple[list[tuple[str, str]], list[str]]:
    mapped: dict[tuple[str, int], int] = {}
    versions: list[tuple[str, str]] = []
    for name, number, mlflow_run, storage, origin, description in source.model_versions():
        label = f"model {name}/{number}"
        run_id = runs.get(str(mlflow_run or ""))
        if run_id is None:
            skipped.append(Skipped(label, "its run was not imported"))
            continue
        files = dict(_files(source.location(str(storage or origin or ""))))
        if _MODEL_FILE not in files:
            kind = "a pickle" if any(f.endswith(".pkl") for f in files) else "no skops file"
            skipped.append(
                Skipped(
                    label,
                    f"{kind}: Flywheel never loads pickles; re-log it with "
                    "mlflow.sklearn.log_model(..., serialization_format='skops') and import again"
                    if kind == "a pickle"
                    else f"no {_MODEL_FILE} at {storage or origin}",
                )
            )
            continue
        data = files[_MODEL_FILE]
        digest = digest_bytes(data)
        existing = [
            v
            for v in registry.list_versions()
            if v.run_id == run_id and v.artifact_digest == digest
        ]
        if existing:
            mapped[(str(name), int(number))] = existing[0].version
            continue
        artifact = f"mlflow-models/{name}-v{number}/{_MODEL_FILE}"
        store.add_artifact(
            run_id,
            Artifact(
                name=artifact,
                kind="model",
                digest=objects.put_bytes(data),
                size=len(data),
                created_at=utc_now(),
                meta={"format": "skops", "mlflow_source": str(origin or "")},
            ),
        )
        try:
            version = registry.register(
                run_id, name=str(name), artifact=artifact, description=str(description or "")
            )
        except FlywheelError as exc:
            skipped.append(Skipped(label, exc.one_line()))
            continue
        mapped[(str(name), int(number))] = version.version
        versions.append((f"{name}/{number}", version.ref))
    aliases: list[str] = []
    for name, alias, number in source.aliases():
        target = mapped.get((str(name), int(number)))
        if target is None:
            skipped.append(Skipped(f"alias {name}@{alias}", f"version {number} was not imported"))
            continue
        if registry.aliases(str(name)).get(str(alias)) == target:
            continue
        try:
            registry.set_alias(
                str(name), str(alias), target, override=True,
                reason=f"imported from MLflow ({name}@{alias} -> version {number})",
            )  # fmt: skip
        except FlywheelError as exc:
            skipped.append(Skipped(f"alias {name}@{alias}", exc.one_line()))
            continue
        aliases.append(f"{name}@{alias}")
    return versions, aliases
