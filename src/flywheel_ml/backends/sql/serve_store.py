"""The serve stage's store: one row per deployment, one per move, one per running gateway."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from flywheel_ml.backends.sql.database import Database
from flywheel_ml.backends.sql.tables import metadata
from flywheel_ml.backends.sql.timestamps import aware, required
from flywheel_ml.core.ids import new_id
from flywheel_ml.serve.entities import Deployment, DeploymentMove, MoveKind
from flywheel_ml.serve.store import GatewayRecord

_LOCK_KEY = 0x53455256  # "SERV": serialises moves on PostgreSQL so seq follows commit order

serve_deployments = sa.Table(
    "serve_deployments",
    metadata,
    sa.Column("model", sa.String(100), primary_key=True),
    sa.Column("state", sa.JSON, nullable=False),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_by", sa.String(200), nullable=False),
)

serve_moves = sa.Table(
    "serve_moves",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("model", sa.String(100), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("state", sa.JSON, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_serve_moves_model", "model", "seq"),
)

serve_gateways = sa.Table(
    "serve_gateways",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("url", sa.String(300), nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
)


def deployment_to_json(state: Deployment) -> dict[str, Any]:
    """The state as a JSON-ready dict (the stored form and the ``--json`` form)."""
    return {
        "model": state.model,
        "champion": state.champion,
        "canary": state.canary,
        "canary_percent": state.canary_percent,
        "shadow": state.shadow,
        "earlier_champions": list(state.earlier_champions),
        "revision": state.revision,
        "updated_at": None if state.updated_at is None else state.updated_at.isoformat(),
        "updated_by": state.updated_by,
    }


def _from_json(doc: dict[str, Any], *, at: datetime | None) -> Deployment:
    return Deployment(
        model=doc["model"],
        champion=doc["champion"],
        canary=doc.get("canary"),
        canary_percent=float(doc.get("canary_percent") or 0.0),
        shadow=doc.get("shadow"),
        earlier_champions=tuple(doc.get("earlier_champions") or ()),
        revision=int(doc.get("revision") or 0),
        updated_at=aware(at),
        updated_by=str(doc.get("updated_by") or ""),
    )


class SqlDeploymentStore:
    """:class:`flywheel_ml.serve.DeploymentStore` on SQLite or PostgreSQL."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def get_deployment(self, model: str) -> Deployment | None:
        """The current state of ``model``'s deployment, or None."""
        with self._db.read() as conn:
            return _current(conn, model)

    def list_deployments(self) -> list[Deployment]:
        """Every deployment, by model name."""
        with self._db.read() as conn:
            rows = conn.execute(
                sa.select(serve_deployments).order_by(serve_deployments.c.model)
            ).mappings()
            return [_from_json(r["state"], at=r["updated_at"]) for r in rows]

    def apply_move(
        self,
        model: str,
        change: Callable[[Deployment | None], Deployment],
        *,
        kind: MoveKind,
        actor: str,
        at: datetime,
        reason: str = "",
    ) -> DeploymentMove:
        """Apply ``change`` to the current state in one write transaction and record the move."""

        def work(conn: Connection) -> DeploymentMove:
            if not self._db.is_sqlite:
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
            before = _current(conn, model)
            after = change(before)
            saved = Deployment(
                model=model,
                champion=after.champion,
                canary=after.canary,
                canary_percent=after.canary_percent,
                shadow=after.shadow,
                earlier_champions=after.earlier_champions,
                revision=(0 if before is None else before.revision) + 1,
                updated_at=at,
                updated_by=actor,
            )
            doc = deployment_to_json(saved)
            values = {"state": doc, "revision": saved.revision, "updated_at": at}
            if before is None:
                conn.execute(
                    serve_deployments.insert().values(model=model, updated_by=actor, **values)
                )
            else:
                conn.execute(
                    serve_deployments.update()
                    .where(serve_deployments.c.model == model)
                    .values(updated_by=actor, **values)
                )
            seq = conn.execute(
                serve_moves.insert()
                .values(model=model, kind=kind, state=doc, reason=reason, actor=actor, at=at)
                .returning(serve_moves.c.seq)
            ).scalar_one()
            return DeploymentMove(seq=int(seq), kind=kind, state=saved, reason=reason)

        return self._db.write(work)

    def list_moves(self, model: str) -> list[DeploymentMove]:
        """Every move of ``model``, oldest first."""
        with self._db.read() as conn:
            rows = conn.execute(
                sa.select(serve_moves)
                .where(serve_moves.c.model == model)
                .order_by(serve_moves.c.seq)
            ).mappings()
            return [
                DeploymentMove(
                    seq=int(r["seq"]),
                    kind=r["kind"],
                    state=_from_json(r["state"], at=r["at"]),
                    reason=r["reason"],
                )
                for r in rows
            ]

    def last_seq(self) -> int:
        """The newest move's ``seq`` (0 when none)."""
        with self._db.read() as conn:
            value = conn.execute(sa.select(sa.func.max(serve_moves.c.seq))).scalar()
        return int(value or 0)

    def add_gateway(self, url: str, *, at: datetime) -> GatewayRecord:
        """Register a running gateway."""
        record = GatewayRecord(id=new_id(), url=url, started_at=at)
        self._db.write(
            lambda conn: conn.execute(
                serve_gateways.insert().values(id=record.id, url=url, started_at=at)
            )
        )
        return record

    def remove_gateway(self, gateway_id: str) -> None:
        """Forget a gateway; unknown ids are ignored."""
        self._db.write(
            lambda conn: conn.execute(
                serve_gateways.delete().where(serve_gateways.c.id == gateway_id)
            )
        )

    def list_gateways(self) -> list[GatewayRecord]:
        """Every registered gateway, oldest first."""
        with self._db.read() as conn:
            rows = conn.execute(
                sa.select(serve_gateways).order_by(serve_gateways.c.started_at)
            ).mappings()
            return [
                GatewayRecord(id=r["id"], url=r["url"], started_at=required(r["started_at"]))
                for r in rows
            ]


def _current(conn: Connection, model: str) -> Deployment | None:
    row = (
        conn.execute(sa.select(serve_deployments).where(serve_deployments.c.model == model))
        .mappings()
        .first()
    )
    return None if row is None else _from_json(row["state"], at=row["updated_at"])
