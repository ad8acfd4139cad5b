"""Import an MLflow tracking store: experiments, runs, params, metric histories, tags,
artifacts, registered models and aliases.

The store is read through a :class:`~flywheel_ml.backends.mlflow_sources.MlflowReader`: an SQL
store directly with SQLAlchemy (MLflow itself not needed), any other tracking URI (a file store,
a tracking server) through MLflow's own client. Each MLflow run becomes one Flywheel run in ONE
transaction (start, every metric point with its step and time, end), tagged ``mlflow.run_id`` so
importing again skips it, and ``mlflow.experiment`` with its experiment's name. Artifacts are
copied into the object store from wherever the run's ``artifact_uri`` points (the reader
rewrites ``artifact_roots`` prefixes when the store was copied from another machine).

Registered model versions come across only when their files hold a skops model: the version is
registered through the registry's own verb (which checks the file's types), and the MLflow
aliases are set with the reason "imported from MLflow". Pickled models are never loaded; they
are listed as skipped, with what to do instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from flywheel_ml.backends.mlflow_sources import MlflowReader, MlflowRunRecord
from flywheel_ml.backends.sql.track_store import SqlTrackStore
from flywheel_ml.core.clock import utc_now
from flywheel_ml.core.digests import digest_bytes
from flywheel_ml.core.ids import new_id
from flywheel_ml.core.objects import ObjectStore
from flywheel_ml.errors import FlywheelError
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


def import_mlflow(
    source: MlflowReader,
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
        source: the MLflow store (see ``mlflow_sources.open_mlflow_source``).
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
        mlflow_id, experiment = row.mlflow_id, names.get(row.experiment_id, row.experiment_id)
        if experiments and experiment not in experiments:
            continue
        if mlflow_id in done:
            already += 1
        elif row.lifecycle != "active":
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
    source: MlflowReader,
    row: MlflowRunRecord,
    experiment: str,
    *,
    store: SqlTrackStore,
    objects: ObjectStore,
) -> ImportedRun:
    mlflow_id = row.mlflow_id
    tags = source.tags(mlflow_id)
    mine = {k: v for k, v in tags.items() if not k.startswith("mlflow.")}
    mine.update({IMPORT_TAG: mlflow_id, EXPERIMENT_TAG: experiment})
    started = _ms(row.start_ms) or utc_now()
    ended = _ms(row.end_ms) or started
    status = _STATUS.get(row.status, "crashed")
    user = row.user or tags.get("mlflow.user", "")
    lineage = Lineage(
        git_commit=tags.get("mlflow.source.git.commit", ""),
        user=user,
        command=(tags["mlflow.source.name"],) if tags.get("mlflow.source.name") else (),
    )
    run_id = new_id()
    artifacts = []
    for relative, data in source.files(row.artifact_uri):
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
    name = str(row.name or tags.get("mlflow.runName") or f"mlflow-{mlflow_id[:8]}")[:200]
    store.import_run(
        NewRun(
            id=run_id,
            name=name,
            params=check_params(source.params(mlflow_id)),
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
    source: MlflowReader,
    registry: RegistryStage,
    store: SqlTrackStore,
    objects: ObjectStore,
    runs: Mapping[str, str],
    skipped: list[Skipped],
) -> tuple[list[tuple[str, str]], list[str]]:
    mapped: dict[tuple[str, int], int] = {}
    versions: list[tuple[str, str]] = []
    for record in source.model_versions():
        name, number = record.name, record.version
        label = f"model {name}/{number}"
        run_id = runs.get(record.run_id)
        if run_id is None:
            skipped.append(Skipped(label, "its run was not imported"))
            continue
        files = dict(source.files(record.location))
        if _MODEL_FILE not in files:
            kind = "a pickle" if any(f.endswith(".pkl") for f in files) else "no skops file"
            skipped.append(
                Skipped(
                    label,
                    f"{kind}: Flywheel never loads pickles; re-log it with "
                    "mlflow.sklearn.log_model(..., serialization_format='skops') and import again"
                    if kind == "a pickle"
                    else f"no {_MODEL_FILE} at {record.location}",
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
                meta={"format": "skops", "mlflow_source": record.location},
            ),
        )
        try:
            version = registry.register(
                run_id, name=str(name), artifact=artifact, description=record.description
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
