"""MLflow's SQL tracking store read directly with SQLAlchemy, read-only (MLflow not needed).

The fast path of an import: one query per run for its whole metric history. The tables read
(``experiments``, ``runs``, ``params``, ``tags``, ``metrics``, ``model_versions``,
``registered_model_aliases``) have kept their columns since MLflow 1.x; the tests read a store
written by MLflow 3 itself and check that this reader and MLflow's client agree.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Mapping
from typing import Any

import sqlalchemy as sa

from flywheel_ml.backends.mlflow_sources import (
    MlflowRunRecord,
    MlflowVersionRecord,
    as_int,
    read_files,
    rewrite_location,
)
from flywheel_ml.errors import InvalidInputError, StoreUnavailableError


class MlflowSqlSource:
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
                hint="pass MLflow's --backend-store-uri, e.g. sqlite:///mlruns.db, or "
                "--reader client for a file store or a tracking server",
            ) from exc
        if url.get_backend_name() == "sqlite":
            if not url.database or not os.path.isfile(url.database):
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

    def runs(self) -> list[MlflowRunRecord]:
        """Every run, oldest first."""
        rows = self._rows(
            "SELECT run_uuid, name, user_id, status, start_time, end_time, lifecycle_stage, "
            "artifact_uri, experiment_id FROM runs ORDER BY start_time, run_uuid"
        )
        return [
            MlflowRunRecord(
                mlflow_id=str(r[0]),
                name=str(r[1] or ""),
                user=str(r[2] or ""),
                status=str(r[3] or ""),
                start_ms=as_int(r[4]),
                end_ms=as_int(r[5]),
                lifecycle=str(r[6] or "active"),
                artifact_uri=str(r[7] or ""),
                experiment_id=str(r[8]),
            )
            for r in rows
        ]

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

    def metrics(self, run: str) -> list[tuple[str, int, float, int, bool]]:
        """``(key, step, value, timestamp ms, is_nan)`` of every point, by key then time."""
        rows = self._rows(
            "SELECT key, step, value, timestamp, is_nan FROM metrics WHERE run_uuid = :r "
            "ORDER BY key, timestamp, step",
            r=run,
        )
        # MLflow stores a NaN point as 0.0 with is_nan set; give it back as NaN.
        return [
            (str(k), int(s or 0), math.nan if n else float(v), int(t), bool(n))
            for k, s, v, t, n in rows
        ]

    def model_versions(self) -> list[MlflowVersionRecord]:
        """Every registered model version, by name then version."""
        if "model_versions" not in self._tables:
            return []
        rows = self._rows(
            "SELECT name, version, run_id, storage_location, source, description "
            "FROM model_versions ORDER BY name, version"
        )
        return [
            MlflowVersionRecord(
                name=str(name),
                version=int(number),
                run_id=str(run or ""),
                location=str(storage or origin or ""),
                description=str(description or ""),
            )
            for name, number, run, storage, origin, description in rows
        ]

    def aliases(self) -> list[tuple[str, str, int]]:
        """``(name, alias, version)`` of every registered-model alias."""
        if "registered_model_aliases" not in self._tables:
            return []
        rows = self._rows(
            "SELECT name, alias, version FROM registered_model_aliases ORDER BY name, alias"
        )
        return [(str(n), str(a), int(v)) for n, a, v in rows]

    def files(self, location: str) -> Iterator[tuple[str, bytes]]:
        """The files under an artifact location (after the ``artifact_roots`` rewrites)."""
        return read_files(rewrite_location(location, self._roots))
