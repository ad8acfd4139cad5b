"""An MLflow tracking store read through MLflow's own client (``mlflow.MlflowClient``).

Reads whatever tracking URI MLflow reads: a file store (``./mlruns``, ``file:///...``), a
tracking server (``http://host:5000``), ``databricks``, or an SQL URL. Needs the ``mlflow``
extra (``mlflow-skinny``). A file store that does not exist is refused before MLflow's client
could create one; an SQL URL given to this reader is opened as MLflow opens it (MLflow may
upgrade an old schema), which is why ``auto`` reads SQL stores with the direct reader.

Artifacts are read with fsspec where their URI is a path or an object-store URL, and downloaded
through MLflow (into a temporary folder) where only MLflow can serve them
(``mlflow-artifacts:``, ``runs:``, ``models:``, a server's ``http(s)://`` proxy).
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from flywheel_ml.backends.mlflow_sources import (
    MlflowRunRecord,
    MlflowVersionRecord,
    as_int,
    read_files,
    rewrite_location,
)
from flywheel_ml.errors import InvalidInputError, StoreUnavailableError

_SERVED_BY_MLFLOW = {"mlflow-artifacts", "runs", "models", "dbfs", "http", "https", "uc"}
_PAGE = 1000


class MlflowClientSource:
    """An MLflow tracking store opened through ``mlflow.MlflowClient``.

    Args:
        tracking_uri: any tracking URI MLflow accepts.
        artifact_roots: ``{old prefix: new prefix}`` rewrites of artifact locations.

    Raises:
        InvalidInputError: MLflow is not installed, or no file store at a path.
        StoreUnavailableError: the store cannot be read (a server that does not answer).
    """

    def __init__(
        self, tracking_uri: str, *, artifact_roots: Mapping[str, str] | None = None
    ) -> None:
        self.uri = tracking_uri
        self._roots = dict(artifact_roots or {})
        # Reading is not using MLflow: no usage reports from this process.
        os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
        os.environ.setdefault("DO_NOT_TRACK", "true")
        scheme = tracking_uri.partition(":")[0].lower() if "://" in tracking_uri else ""
        if scheme in ("", "file"):
            folder = Path(tracking_uri.removeprefix("file://"))
            if not folder.is_dir():
                raise InvalidInputError(
                    f"no MLflow file store at {str(folder)!r}",
                    hint="pass the mlruns folder MLflow wrote, e.g. --tracking-uri ./mlruns",
                )
            # MLflow 3 refuses to open a file store unless told that is wanted; reading an
            # existing one to migrate away from it is exactly the case the switch is for.
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
            tracking_uri = folder.resolve().as_uri()
        try:
            from mlflow import MlflowClient
            from mlflow.entities import ViewType
        except ImportError as exc:
            raise InvalidInputError(
                f"reading {self.uri!r} needs MLflow's client, which is not installed",
                hint="pip install 'flywheel-ml[mlflow]' (or use an SQL store URL: sqlite:///...)",
            ) from exc
        self._all = ViewType.ALL
        self._client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
        self._tracking_uri = tracking_uri
        try:
            self._experiments = {
                str(e.experiment_id): str(e.name) for e in self._paged_experiments()
            }
        except Exception as exc:  # MLflow raises requests', its own and OS errors alike
            raise StoreUnavailableError(
                f"cannot read the MLflow store {self.uri!r}: {exc.__class__.__name__}: "
                f"{str(exc)[:200]}",
                hint="check the tracking URI and that the server is reachable",
            ) from exc
        self._runs: dict[str, Any] = {}
        self._temp = tempfile.TemporaryDirectory(prefix="flywheel-mlflow-")

    def close(self) -> None:
        """Remove downloaded artifacts."""
        self._temp.cleanup()

    def _paged_experiments(self) -> Iterator[Any]:
        token = None
        while True:
            page = self._client.search_experiments(
                view_type=self._all, max_results=_PAGE, page_token=token
            )
            yield from page
            token = page.token
            if not token:
                return

    def experiments(self) -> dict[str, str]:
        """Experiment id (as text) -> name, deleted experiments included."""
        return dict(self._experiments)

    def runs(self) -> list[MlflowRunRecord]:
        """Every run of every experiment, deleted ones included, oldest first."""
        for experiment in self._experiments:
            token = None
            while True:
                page = self._client.search_runs(
                    [experiment], run_view_type=self._all, max_results=_PAGE, page_token=token
                )
                self._runs.update({run.info.run_id: run for run in page})
                token = page.token
                if not token:
                    break
        records = [_record(run) for run in self._runs.values()]
        return sorted(records, key=lambda r: (r.start_ms or 0, r.mlflow_id))

    def _run(self, run_id: str) -> Any:
        if run_id not in self._runs:
            self._runs[run_id] = self._client.get_run(run_id)
        return self._runs[run_id]

    def params(self, run: str) -> dict[str, str]:
        """The run's params (text)."""
        return {str(k): str(v) for k, v in self._run(run).data.params.items()}

    def tags(self, run: str) -> dict[str, str]:
        """The run's tags, MLflow's own ``mlflow.*`` ones included."""
        return {str(k): str(v) for k, v in self._run(run).data.tags.items()}

    def metrics(self, run: str) -> list[tuple[str, int, float, int, bool]]:
        """Every point of every metric of the run (full history), by key then time."""
        points = []
        for key in sorted(self._run(run).data.metrics):
            for m in self._client.get_metric_history(run, key):
                value = float(m.value)
                points.append(
                    (str(key), int(m.step or 0), value, int(m.timestamp), math.isnan(value))
                )
        # MLflow 3's file store appends a run's latest points again when a model is logged in
        # it; its SQL store keys a point by (key, timestamp, step, value), so they are one.
        unique = list(dict.fromkeys(points))
        unique.sort(key=lambda p: (p[0], p[3], p[1]))
        return unique

    def _registered_models(self) -> list[Any]:
        models: list[Any] = []
        token = None
        while True:
            page = self._client.search_registered_models(max_results=_PAGE, page_token=token)
            models.extend(page)
            token = page.token
            if not token:
                return models

    def model_versions(self) -> list[MlflowVersionRecord]:
        """Every registered model version, with where its files are, by name then version."""
        records = []
        for model in self._registered_models():
            escaped = str(model.name).replace("'", "\\'")
            for v in self._client.search_model_versions(f"name = '{escaped}'"):
                location = self._client.get_model_version_download_uri(v.name, v.version)
                records.append(
                    MlflowVersionRecord(
                        name=str(v.name),
                        version=int(v.version),
                        run_id=str(v.run_id or ""),
                        location=str(location or v.source or ""),
                        description=str(v.description or ""),
                    )
                )
        return sorted(records, key=lambda r: (r.name, r.version))

    def aliases(self) -> list[tuple[str, str, int]]:
        """``(name, alias, version)`` of every registered-model alias."""
        found = [
            (str(model.name), str(alias), int(version))
            for model in self._registered_models()
            for alias, version in (model.aliases or {}).items()
        ]
        return sorted(found)

    def files(self, location: str) -> Iterator[tuple[str, bytes]]:
        """The files under an artifact location (after the ``artifact_roots`` rewrites)."""
        location = rewrite_location(location, self._roots)
        scheme = location.partition(":")[0].lower() if ":" in location else ""
        if scheme not in _SERVED_BY_MLFLOW:
            yield from read_files(location)
            return
        from mlflow.artifacts import download_artifacts
        from mlflow.exceptions import MlflowException

        target = Path(tempfile.mkdtemp(dir=self._temp.name))
        try:
            local = download_artifacts(
                artifact_uri=location, dst_path=str(target), tracking_uri=self._tracking_uri
            )
        except (MlflowException, OSError):
            return  # nothing stored there (MLflow reports a missing folder as an error)
        yield from read_files(local)


def _record(run: Any) -> MlflowRunRecord:
    info = run.info
    return MlflowRunRecord(
        mlflow_id=str(info.run_id), name=str(info.run_name or ""), user=str(info.user_id or ""),
        status=str(info.status or ""), start_ms=as_int(info.start_time),
        end_ms=as_int(info.end_time), lifecycle=str(info.lifecycle_stage or "active"),
        artifact_uri=str(info.artifact_uri or ""), experiment_id=str(info.experiment_id),
    )  # fmt: skip
