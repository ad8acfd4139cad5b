"""The registry stage's store: versions, current aliases, alias moves, evaluations, cases."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from flywheel_ml.backends.sql.database import Database
from flywheel_ml.backends.sql.tables import metadata
from flywheel_ml.backends.sql.timestamps import required
from flywheel_ml.core.clock import as_utc
from flywheel_ml.core.digests import Digest
from flywheel_ml.registry.entities import AliasMove, BehaviourCase, Evaluation, ModelVersion
from flywheel_ml.registry.records import evaluation_from_json, evaluation_to_json

_LOCK_KEY = 0x52454753  # "REGS": serialises version numbers and alias moves on PostgreSQL

registry_versions = sa.Table(
    "registry_versions",
    metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("run_id", sa.String(32), nullable=False),
    sa.Column("dataset", sa.String(200), nullable=False),
    sa.Column("git_commit", sa.String(64), nullable=False),
    sa.Column("artifact_digest", sa.String(80), nullable=False),
    sa.Column("artifact_format", sa.String(20), nullable=False),
    sa.Column("artifact_size", sa.BigInteger, nullable=False),
    sa.Column("estimator", sa.String(300), nullable=False),
    sa.Column("feature_names", sa.JSON, nullable=False),
    sa.Column("trusted", sa.JSON, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("deleted_by", sa.String(200), nullable=True),
    sa.Column("kernel_digest", sa.String(80), nullable=True),
)

registry_aliases = sa.Table(
    "registry_aliases",
    metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("alias", sa.String(40), primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
)

registry_alias_moves = sa.Table(
    "registry_alias_moves",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("alias", sa.String(40), nullable=False),
    sa.Column("from_version", sa.Integer, nullable=True),
    sa.Column("to_version", sa.Integer, nullable=True),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("override", sa.Boolean, nullable=False),
    sa.Index("ix_registry_alias_moves_name", "name", "seq"),
)

registry_evaluations = sa.Table(
    "registry_evaluations",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("passed", sa.Boolean, nullable=False),
    sa.Column("record", sa.JSON, nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_registry_evaluations_version", "name", "version"),
)

registry_cases = sa.Table(
    "registry_cases",
    metadata,
    sa.Column("model", sa.String(100), primary_key=True),
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("rows_digest", sa.String(80), nullable=False),
    sa.Column("rows", sa.Integer, nullable=False),
    sa.Column("expect", sa.String(200), nullable=False),
    sa.Column("min_score", sa.Float, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)


class SqlRegistryStore:
    """:class:`flywheel_ml.registry.RegistryStore` on SQLite or PostgreSQL."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def _lock(self, conn: Connection) -> None:
        if not self._db.is_sqlite:
            # SQLite's BEGIN IMMEDIATE already excludes other writers; PostgreSQL needs a lock.
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})

    def add_version(self, make: Callable[[int], ModelVersion]) -> ModelVersion:
        """Store ``make(next number)`` in one transaction."""

        def work(conn: Connection) -> ModelVersion:
            self._lock(conn)
            probe = make(0)
            highest = conn.execute(
                sa.select(sa.func.max(registry_versions.c.version)).where(
                    registry_versions.c.name == probe.name
                )
            ).scalar()
            version = make(int(highest or 0) + 1)
            conn.execute(registry_versions.insert().values(**_version_row(version)))
            return version

        return self._db.write(work)

    def get_version(self, name: str, version: int) -> ModelVersion | None:
        """The version, or None."""
        with self._db.read() as conn:
            row = (
                conn.execute(
                    sa.select(registry_versions).where(
                        registry_versions.c.name == name, registry_versions.c.version == version
                    )
                )
                .mappings()
                .first()
            )
        return None if row is None else _version(row)

    def list_versions(self, name: str | None = None) -> list[ModelVersion]:
        """Versions of one model (or all), by name then number."""
        query = sa.select(registry_versions).order_by(
            registry_versions.c.name, registry_versions.c.version
        )
        if name is not None:
            query = query.where(registry_versions.c.name == name)
        with self._db.read() as conn:
            return [_version(r) for r in conn.execute(query).mappings()]

    def set_deleted(self, name: str, version: int, *, at: datetime, actor: str) -> None:
        """Mark a version deleted."""
        self._db.write(
            lambda conn: conn.execute(
                registry_versions.update()
                .where(registry_versions.c.name == name, registry_versions.c.version == version)
                .values(deleted_at=as_utc(at), deleted_by=actor)
            )
        )

    def move_alias(
        self,
        name: str,
        alias: str,
        to_version: int | None,
        *,
        actor: str,
        at: datetime,
        reason: str,
        override: bool,
    ) -> AliasMove:
        """Point the alias and append the move, in one transaction."""
        at = as_utc(at)
        where = (registry_aliases.c.name == name, registry_aliases.c.alias == alias)

        def work(conn: Connection) -> AliasMove:
            self._lock(conn)
            before = conn.execute(sa.select(registry_aliases.c.version).where(*where)).scalar()
            if before is not None:
                conn.execute(registry_aliases.delete().where(*where))
            if to_version is not None:
                conn.execute(
                    registry_aliases.insert().values(name=name, alias=alias, version=to_version)
                )
            values = {
                "name": name, "alias": alias, "from_version": before, "to_version": to_version,
                "actor": actor, "at": at, "reason": reason, "override": override,
            }  # fmt: skip
            seq = conn.execute(
                registry_alias_moves.insert().values(**values).returning(registry_alias_moves.c.seq)
            ).scalar_one()
            return AliasMove(seq=int(seq), **values)  # type: ignore[arg-type]

        return self._db.write(work)

    def aliases(self, name: str) -> dict[str, int]:
        """alias -> version for one model."""
        with self._db.read() as conn:
            rows = conn.execute(
                sa.select(registry_aliases.c.alias, registry_aliases.c.version)
                .where(registry_aliases.c.name == name)
                .order_by(registry_aliases.c.alias)
            ).all()
        return {str(a): int(v) for a, v in rows}

    def alias_history(self, name: str) -> list[AliasMove]:
        """Every move of the model's aliases, oldest first."""
        with self._db.read() as conn:
            rows = conn.execute(
                sa.select(registry_alias_moves)
                .where(registry_alias_moves.c.name == name)
                .order_by(registry_alias_moves.c.seq)
            ).mappings()
            return [
                AliasMove(
                    seq=int(r["seq"]), name=r["name"], alias=r["alias"],
                    from_version=r["from_version"], to_version=r["to_version"], actor=r["actor"],
                    at=required(r["at"]), reason=r["reason"], override=bool(r["override"]),
                )
                for r in rows
            ]  # fmt: skip

    def add_evaluation(self, evaluation: Evaluation) -> None:
        """Keep an evaluation record."""
        row = {
            "id": evaluation.id,
            "name": evaluation.name,
            "version": evaluation.version,
            "passed": evaluation.passed,
            "record": evaluation_to_json(evaluation),
            "at": as_utc(evaluation.at),
        }
        self._db.write(lambda conn: conn.execute(registry_evaluations.insert().values(**row)))

    def list_evaluations(
        self, name: str | None = None, version: int | None = None
    ) -> list[Evaluation]:
        """Evaluations, oldest first."""
        query = sa.select(registry_evaluations).order_by(
            registry_evaluations.c.at, registry_evaluations.c.id
        )
        if name is not None:
            query = query.where(registry_evaluations.c.name == name)
        if version is not None:
            query = query.where(registry_evaluations.c.version == version)
        with self._db.read() as conn:
            return [
                evaluation_from_json(r["record"], at=required(r["at"]))
                for r in conn.execute(query).mappings()
            ]

    def put_case(self, case: BehaviourCase) -> None:
        """Create or replace a case."""
        where = (registry_cases.c.model == case.model, registry_cases.c.name == case.name)
        values = {
            "model": case.model, "name": case.name, "rows_digest": case.rows_digest,
            "rows": case.rows, "expect": case.expect, "min_score": case.min_score,
            "description": case.description, "created_by": case.created_by,
            "created_at": as_utc(case.created_at),
        }  # fmt: skip

        def work(conn: Connection) -> None:
            conn.execute(registry_cases.delete().where(*where))
            conn.execute(registry_cases.insert().values(**values))

        self._db.write(work)

    def list_cases(self, model: str) -> list[BehaviourCase]:
        """The model's cases, by name."""
        with self._db.read() as conn:
            rows = conn.execute(
                sa.select(registry_cases)
                .where(registry_cases.c.model == model)
                .order_by(registry_cases.c.name)
            ).mappings()
            return [
                BehaviourCase(
                    model=r["model"], name=r["name"], rows_digest=Digest(r["rows_digest"]),
                    rows=int(r["rows"]), expect=r["expect"], min_score=float(r["min_score"]),
                    description=r["description"], created_by=r["created_by"],
                    created_at=required(r["created_at"]),
                )
                for r in rows
            ]  # fmt: skip


def _version_row(version: ModelVersion) -> dict[str, Any]:
    return {
        "name": version.name,
        "version": version.version,
        "run_id": version.run_id,
        "dataset": version.dataset,
        "git_commit": version.git_commit,
        "artifact_digest": version.artifact_digest,
        "artifact_format": version.artifact_format,
        "artifact_size": version.artifact_size,
        "estimator": version.estimator,
        "feature_names": list(version.feature_names),
        "trusted": list(version.trusted),
        "description": version.description,
        "created_by": version.created_by,
        "created_at": as_utc(version.created_at),
        "kernel_digest": version.kernel_digest,
    }


def _version(row: Any) -> ModelVersion:
    return ModelVersion(
        name=row["name"],
        version=int(row["version"]),
        run_id=row["run_id"],
        dataset=row["dataset"],
        git_commit=row["git_commit"],
        artifact_digest=Digest(row["artifact_digest"]),
        artifact_format=row["artifact_format"],
        artifact_size=int(row["artifact_size"]),
        estimator=row["estimator"],
        feature_names=tuple(row["feature_names"]),
        trusted=tuple(row["trusted"]),
        description=row["description"],
        created_by=row["created_by"],
        created_at=required(row["created_at"]),
        deleted=row["deleted_at"] is not None,
        kernel_digest=Digest(row["kernel_digest"]) if row["kernel_digest"] else None,
    )
