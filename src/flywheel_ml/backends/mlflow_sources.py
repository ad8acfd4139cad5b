"""Where an MLflow import reads from: MLflow's SQL database directly, or MLflow's own client.

Two readers give the importer (:mod:`flywheel_ml.backends.mlflow_import`) the same records:

* :class:`~flywheel_ml.backends.mlflow_sql_source.MlflowSqlSource` reads an SQL tracking store
  (``sqlite:///mlflow.db``, ``postgresql://...``) with SQLAlchemy, read-only; MLflow need not be
  installed, and a whole metric table is read with one query per run (the fast path).
* :class:`~flywheel_ml.backends.mlflow_client_source.MlflowClientSource` reads any tracking URI
  MLflow's client understands (a ``./mlruns`` file store, an ``http://`` tracking server,
  ``databricks``) through ``mlflow.MlflowClient``; it needs the ``mlflow`` extra.

:func:`open_mlflow_source` picks one from the URI (``reader="auto"``) or as told.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from flywheel_ml.errors import InvalidInputError

READERS = ("auto", "sql", "client")
_SQL_SCHEMES = ("sqlite", "postgresql", "postgres")


@dataclass(frozen=True, slots=True)
class MlflowRunRecord:
    """One MLflow run as a reader sees it (times in epoch milliseconds, as MLflow keeps them)."""

    mlflow_id: str
    name: str
    user: str
    status: str
    start_ms: int | None
    end_ms: int | None
    lifecycle: str
    artifact_uri: str
    experiment_id: str


@dataclass(frozen=True, slots=True)
class MlflowVersionRecord:
    """One registered model version: where its files are and which run made it."""

    name: str
    version: int
    run_id: str
    location: str
    description: str


class MlflowReader(Protocol):
    """What the importer reads from an MLflow tracking store (read-only)."""

    uri: str

    def experiments(self) -> dict[str, str]:
        """Experiment id (as text) -> name, deleted experiments included."""
        ...

    def runs(self) -> list[MlflowRunRecord]:
        """Every run, deleted ones included, oldest first."""
        ...

    def params(self, run: str) -> dict[str, str]:
        """The run's params (MLflow keeps them as text)."""
        ...

    def tags(self, run: str) -> dict[str, str]:
        """The run's tags, MLflow's own ``mlflow.*`` ones included."""
        ...

    def metrics(self, run: str) -> list[tuple[str, int, float, int, bool]]:
        """``(key, step, value, timestamp ms, is_nan)`` of every point, by key then time."""
        ...

    def model_versions(self) -> list[MlflowVersionRecord]:
        """Every registered model version, by name then version."""
        ...

    def aliases(self) -> list[tuple[str, str, int]]:
        """``(model name, alias, version)`` of every alias, by name then alias."""
        ...

    def files(self, location: str) -> Iterator[tuple[str, bytes]]:
        """``(relative path, bytes)`` of every file under an artifact location (none if gone)."""
        ...

    def close(self) -> None:
        """Release connections and temporary files."""
        ...


def rewrite_location(uri: str, roots: Mapping[str, str]) -> str:
    """``uri`` with the first matching ``{old prefix: new prefix}`` rewritten."""
    for old, new in roots.items():
        if uri.startswith(old):
            return new + uri[len(old) :]
    return uri


def read_files(location: str) -> Iterator[tuple[str, bytes]]:
    """``(relative path, bytes)`` of every file under an fsspec location (none if missing)."""
    import fsspec

    if not location:
        return
    fs, root = fsspec.core.url_to_fs(location)
    if not fs.exists(root):
        return
    for path in sorted(fs.find(root)):
        relative = posixpath.relpath(path, root)
        with fs.open(path, "rb") as handle:
            yield relative, handle.read()


def open_mlflow_source(
    tracking_uri: str, *, artifact_roots: Mapping[str, str] | None = None, reader: str = "auto"
) -> MlflowReader:
    """Open an MLflow tracking store for import.

    Args:
        tracking_uri: MLflow's tracking URI (its ``--backend-store-uri`` for an SQL store).
        artifact_roots: ``{old prefix: new prefix}`` rewrites of artifact locations (a store
            copied from another machine).
        reader: ``sql`` (SQLite/PostgreSQL URLs only), ``client`` (any URI; needs MLflow), or
            ``auto``: ``sql`` for SQLite/PostgreSQL URLs, else ``client``.

    Raises:
        InvalidInputError: an unknown reader, a URI the reader cannot read, not an MLflow
            store, or MLflow missing for the client reader.
        StoreUnavailableError: the store cannot be reached.
    """
    if reader not in READERS:
        raise InvalidInputError(
            f"no reader {reader!r}", hint=f"choose one of: {', '.join(READERS)}"
        )
    scheme = tracking_uri.partition(":")[0].partition("+")[0].lower()
    if reader == "sql" or (reader == "auto" and scheme in _SQL_SCHEMES):
        from flywheel_ml.backends.mlflow_sql_source import MlflowSqlSource

        return MlflowSqlSource(tracking_uri, artifact_roots=artifact_roots)
    from flywheel_ml.backends.mlflow_client_source import MlflowClientSource

    return MlflowClientSource(tracking_uri, artifact_roots=artifact_roots)


def as_int(value: Any) -> int | None:
    """``value`` as an int, None kept (MLflow leaves end times of live runs empty)."""
    return None if value is None else int(value)
