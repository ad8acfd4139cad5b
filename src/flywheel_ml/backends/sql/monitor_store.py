"""The monitor stage's store: rules, evaluations, alerts, reference binnings, delayed labels."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from flywheel_ml.backends.sql.database import Database
from flywheel_ml.backends.sql.tables import metadata
from flywheel_ml.backends.sql.timestamps import aware, required
from flywheel_ml.core.digests import Digest
from flywheel_ml.monitor.entities import (
    Alert,
    DelayedLabel,
    Rule,
    RuleEvaluation,
    StoredBinning,
    Turn,
    TurnStep,
)

monitor_rules = sa.Table(
    "monitor_rules",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("expression", sa.Text, nullable=False),
    sa.Column("model", sa.String(100), nullable=True),
    sa.Column("notify", sa.JSON, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("deleted", sa.Boolean, nullable=False, server_default=sa.false()),
)
monitor_evaluations = sa.Table(
    "monitor_evaluations",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("rule_id", sa.String(32), nullable=False),
    sa.Column("model", sa.String(100), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("value", sa.Float, nullable=True),
    sa.Column("fired", sa.Boolean, nullable=False),
    sa.Column("detail", sa.JSON, nullable=False),
    sa.Index("ix_monitor_evaluations_rule", "rule_id", "at"),
)
monitor_alerts = sa.Table(
    "monitor_alerts",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("rule_id", sa.String(32), nullable=False),
    sa.Column("evaluation_id", sa.String(32), nullable=False),
    sa.Column("model", sa.String(100), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("deliveries", sa.JSON, nullable=False),
    sa.Index("ix_monitor_alerts_at", "at"),
)
monitor_binnings = sa.Table(
    "monitor_binnings",
    metadata,
    sa.Column("reference_digest", sa.String(80), primary_key=True),
    sa.Column("columns_key", sa.String(80), primary_key=True),
    sa.Column("object_digest", sa.String(80), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)
monitor_labels = sa.Table(
    "monitor_labels",
    metadata,
    sa.Column("request_id", sa.String(64), primary_key=True),
    sa.Column("row", sa.Integer, primary_key=True),
    sa.Column("label", sa.Text, nullable=False),
    sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
)
monitor_turns = sa.Table(
    "monitor_turns",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("model", sa.String(100), nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("record", sa.JSON, nullable=False),
    sa.Index("ix_monitor_turns_started", "started_at"),
)


def turn_to_json(turn: Turn) -> dict[str, Any]:
    """A turn as JSON-ready data (the stored record and the ``--json`` form)."""
    return {
        "id": turn.id, "model": turn.model, "status": turn.status,
        "started_at": turn.started_at.isoformat(),
        "finished_at": None if turn.finished_at is None else turn.finished_at.isoformat(),
        "objective": turn.objective, "before": turn.before, "after": turn.after,
        "dataset_version": turn.dataset_version, "model_version": turn.model_version,
        "steps": [{"step": s.step, "status": s.status, "detail": dict(s.detail),
                   "at": None if s.at is None else s.at.isoformat()} for s in turn.steps],
    }  # fmt: skip


def _turn(row: Any) -> Turn:
    doc = row["record"]
    return Turn(
        id=row["id"], model=row["model"], started_at=required(row["started_at"]),
        finished_at=aware(row["finished_at"]), status=row["status"],
        steps=tuple(TurnStep(s["step"], s["status"], s.get("detail") or {},
                             None if s.get("at") is None else datetime.fromisoformat(s["at"]))
                    for s in doc.get("steps", [])),
        objective=doc.get("objective") or "", before=doc.get("before"), after=doc.get("after"),
        dataset_version=doc.get("dataset_version"), model_version=doc.get("model_version"),
    )  # fmt: skip


def _rule(r: Any) -> Rule:
    return Rule(id=r["id"], expression=r["expression"], model=r["model"],
                notify=tuple(r["notify"] or ()), created_by=r["created_by"],
                created_at=required(r["created_at"]))  # fmt: skip


class SqlMonitorStore:
    """:class:`flywheel_ml.monitor.MonitorStore` on SQLite or PostgreSQL."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def add_rule(self, rule: Rule) -> None:
        """Store a new rule."""
        self._db.write(
            lambda conn: conn.execute(
                monitor_rules.insert().values(
                    id=rule.id,
                    expression=rule.expression,
                    model=rule.model,
                    notify=list(rule.notify),
                    created_by=rule.created_by,
                    created_at=rule.created_at,
                    deleted=False,
                )
            )
        )

    def get_rule(self, rule_id: str) -> Rule | None:
        """The live rule with this id, or the only one whose id starts with it (>= 6 chars)."""
        with self._db.read() as conn:
            live = sa.select(monitor_rules).where(monitor_rules.c.deleted.is_(False))
            row = conn.execute(live.where(monitor_rules.c.id == rule_id)).mappings().first()
            if row is None and len(rule_id) >= 6:
                found = list(
                    conn.execute(
                        live.where(monitor_rules.c.id.startswith(rule_id, autoescape=True))
                    ).mappings()
                )
                row = found[0] if len(found) == 1 else None
            return None if row is None else _rule(row)

    def list_rules(self) -> list[Rule]:
        """Every live rule, oldest first."""
        with self._db.read() as conn:
            rows = conn.execute(
                sa.select(monitor_rules)
                .where(monitor_rules.c.deleted.is_(False))
                .order_by(monitor_rules.c.created_at, monitor_rules.c.id)
            ).mappings()
            return [_rule(r) for r in rows]

    def delete_rule(self, rule_id: str) -> bool:
        """Mark a rule deleted (its evaluations and alerts stay); False when none was live."""

        def work(conn: Connection) -> bool:
            done = conn.execute(
                monitor_rules.update()
                .where(monitor_rules.c.id == rule_id, monitor_rules.c.deleted.is_(False))
                .values(deleted=True)
            )
            return bool(done.rowcount)

        return self._db.write(work)

    def record_check(self, evaluations: Sequence[RuleEvaluation], alerts: Sequence[Alert]) -> None:
        """Store one check's evaluations and alerts in one transaction."""

        def work(conn: Connection) -> None:
            if evaluations:
                conn.execute(
                    monitor_evaluations.insert(),
                    [{"id": e.id, "rule_id": e.rule_id, "model": e.model, "at": e.at,
                      "value": e.value, "fired": e.fired, "detail": dict(e.detail)}
                     for e in evaluations],
                )  # fmt: skip
            if alerts:
                conn.execute(
                    monitor_alerts.insert(),
                    [{"id": a.id, "rule_id": a.rule_id, "evaluation_id": a.evaluation_id,
                      "model": a.model, "at": a.at, "message": a.message,
                      "deliveries": dict(a.deliveries)} for a in alerts],
                )  # fmt: skip

        if evaluations or alerts:
            self._db.write(work)

    def list_evaluations(
        self, *, rule_id: str | None = None, limit: int = 100
    ) -> list[RuleEvaluation]:
        """Evaluations, newest first."""
        query = sa.select(monitor_evaluations)
        if rule_id is not None:
            query = query.where(monitor_evaluations.c.rule_id == rule_id)
        query = query.order_by(monitor_evaluations.c.at.desc(), monitor_evaluations.c.id.desc())
        with self._db.read() as conn:
            rows = conn.execute(query.limit(limit)).mappings()
            return [
                RuleEvaluation(
                    id=r["id"],
                    rule_id=r["rule_id"],
                    model=r["model"],
                    at=required(r["at"]),
                    value=r["value"],
                    fired=bool(r["fired"]),
                    detail=r["detail"] or {},
                )
                for r in rows
            ]

    def list_alerts(self, *, model: str | None = None, limit: int = 100) -> list[Alert]:
        """Fired alerts, newest first."""
        query = sa.select(monitor_alerts)
        if model is not None:
            query = query.where(monitor_alerts.c.model == model)
        query = query.order_by(monitor_alerts.c.at.desc(), monitor_alerts.c.id.desc())
        with self._db.read() as conn:
            rows = conn.execute(query.limit(limit)).mappings()
            return [
                Alert(
                    id=r["id"],
                    rule_id=r["rule_id"],
                    evaluation_id=r["evaluation_id"],
                    model=r["model"],
                    at=required(r["at"]),
                    message=r["message"],
                    deliveries=r["deliveries"] or {},
                )
                for r in rows
            ]

    def get_binning(self, reference_digest: str, columns_key: str) -> StoredBinning | None:
        """The stored binning of a reference for these columns, or None."""
        with self._db.read() as conn:
            row = (
                conn.execute(
                    sa.select(monitor_binnings).where(
                        monitor_binnings.c.reference_digest == reference_digest,
                        monitor_binnings.c.columns_key == columns_key,
                    )
                )
                .mappings()
                .first()
            )
        if row is None:
            return None
        return StoredBinning(row["reference_digest"], row["columns_key"],
                             Digest(row["object_digest"]), required(row["created_at"]))  # fmt: skip

    def put_binning(self, binning: StoredBinning) -> None:
        """Remember a binning; when the key exists already the first one is kept."""

        def work(conn: Connection) -> None:
            exists = conn.execute(
                sa.select(monitor_binnings.c.object_digest).where(
                    monitor_binnings.c.reference_digest == binning.reference_digest,
                    monitor_binnings.c.columns_key == binning.columns_key,
                )
            ).first()
            if exists is None:
                conn.execute(
                    monitor_binnings.insert().values(
                        reference_digest=binning.reference_digest,
                        columns_key=binning.columns_key,
                        object_digest=str(binning.object_digest),
                        created_at=binning.created_at,
                    )
                )

        self._db.write(work)

    def add_labels(self, labels: Sequence[DelayedLabel]) -> int:
        """Store delayed labels; a later label for the same request row replaces the earlier."""

        def work(conn: Connection) -> int:
            keys = {(lab.request_id, lab.row) for lab in labels}
            ids = sorted({k[0] for k in keys})
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                conn.execute(
                    monitor_labels.delete().where(monitor_labels.c.request_id.in_(chunk))
                    .where(sa.tuple_(monitor_labels.c.request_id, monitor_labels.c.row).in_(
                        [k for k in keys if k[0] in set(chunk)]))
                )  # fmt: skip
            latest = {(lab.request_id, lab.row): lab for lab in labels}
            if latest:
                conn.execute(
                    monitor_labels.insert(),
                    [{"request_id": lab.request_id, "row": lab.row, "label": lab.label,
                      "imported_at": lab.imported_at} for lab in latest.values()],
                )  # fmt: skip
            return len(latest)

        return self._db.write(work) if labels else 0

    def get_labels(self, request_ids: Sequence[str]) -> list[DelayedLabel]:
        """The delayed labels of these requests."""
        ids = sorted(set(request_ids))
        out: list[DelayedLabel] = []
        with self._db.read() as conn:
            for start in range(0, len(ids), 500):
                rows = conn.execute(
                    sa.select(monitor_labels).where(
                        monitor_labels.c.request_id.in_(ids[start : start + 500])
                    )
                ).mappings()
                out.extend(
                    DelayedLabel(
                        r["request_id"], int(r["row"]), r["label"], required(r["imported_at"])
                    )
                    for r in rows
                )
        return out

    def count_labels(self) -> int:
        """How many delayed labels are stored."""
        with self._db.read() as conn:
            return int(
                conn.execute(sa.select(sa.func.count()).select_from(monitor_labels)).scalar() or 0
            )

    def save_turn(self, turn: Turn) -> None:
        """Store a turn, replacing the earlier record of the same id."""

        def work(conn: Connection) -> None:
            conn.execute(monitor_turns.delete().where(monitor_turns.c.id == turn.id))
            conn.execute(
                monitor_turns.insert().values(
                    id=turn.id,
                    model=turn.model,
                    started_at=turn.started_at,
                    finished_at=turn.finished_at,
                    status=turn.status,
                    record=turn_to_json(turn),
                )
            )

        self._db.write(work)

    def list_turns(self, *, model: str | None = None, limit: int = 50) -> list[Turn]:
        """Turns, newest first."""
        query = sa.select(monitor_turns)
        if model is not None:
            query = query.where(monitor_turns.c.model == model)
        query = query.order_by(monitor_turns.c.started_at.desc(), monitor_turns.c.id.desc())
        with self._db.read() as conn:
            return [_turn(r) for r in conn.execute(query.limit(limit)).mappings()]
