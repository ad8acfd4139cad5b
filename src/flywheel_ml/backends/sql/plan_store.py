"""The plan stage's store: one row per revision of the project page, the page as JSON."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from flywheel_ml.backends.sql.database import Database
from flywheel_ml.backends.sql.tables import plan_revisions
from flywheel_ml.backends.sql.timestamps import required
from flywheel_ml.core.clock import as_utc
from flywheel_ml.plan.entities import Constraint, Objective, PageRevision, ProjectPage

_LOCK_KEY = 0x504C414E  # "PLAN": serialises page updates on PostgreSQL


class SqlPlanStore:
    """:class:`flywheel_ml.plan.PlanStore` on SQLite or PostgreSQL."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def latest_page(self) -> ProjectPage | None:
        """The newest revision of the page, or None."""
        with self._db.read() as conn:
            return _latest(conn)

    def update_page(
        self,
        change: Callable[[ProjectPage], tuple[ProjectPage, str]],
        *,
        actor: str,
        at: datetime,
    ) -> ProjectPage:
        """Apply ``change`` to the newest page inside one write transaction."""
        # SQLite keeps the wall-clock digits and drops the offset: store every time as UTC.
        at = as_utc(at)

        def work(conn: Connection) -> ProjectPage:
            if not self._db.is_sqlite:
                # SQLite's BEGIN IMMEDIATE already excludes other writers; PostgreSQL needs a lock.
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
            current = _latest(conn) or ProjectPage()
            page, summary = change(current)
            revision = current.revision + 1
            saved = ProjectPage(
                **{**_fields(page), "revision": revision, "updated_at": at, "updated_by": actor}
            )
            conn.execute(
                plan_revisions.insert().values(
                    revision=revision,
                    page=page_to_json(saved),
                    summary=summary,
                    changed_at=at,
                    changed_by=actor,
                )
            )
            return saved

        return self._db.write(work)

    def list_revisions(self) -> list[PageRevision]:
        """Every revision, oldest first."""
        with self._db.read() as conn:
            rows = (
                conn.execute(sa.select(plan_revisions).order_by(plan_revisions.c.revision))
                .mappings()
                .all()
            )
        return [
            PageRevision(
                revision=r["revision"],
                page=page_from_json(r["page"], r),
                summary=r["summary"],
                changed_at=required(r["changed_at"]),
                changed_by=r["changed_by"],
            )
            for r in rows
        ]


def _latest(conn: Connection) -> ProjectPage | None:
    row = (
        conn.execute(sa.select(plan_revisions).order_by(plan_revisions.c.revision.desc()).limit(1))
        .mappings()
        .first()
    )
    return None if row is None else page_from_json(row["page"], row)


def _fields(page: ProjectPage) -> dict[str, Any]:
    return {f: getattr(page, f) for f in ProjectPage.__dataclass_fields__}


def page_to_json(page: ProjectPage) -> dict[str, Any]:
    """The page as a JSON-ready dict (the stored form and the ``--json`` form)."""
    return {
        "name": page.name,
        "problem": page.problem,
        "value": page.value,
        "feasibility": page.feasibility,
        "expectations": page.expectations,
        "objective": None
        if page.objective is None
        else {"metric": page.objective.metric, "direction": page.objective.direction},
        "constraints": [
            {"metric": c.metric, "op": c.op, "value": c.value} for c in page.constraints
        ],
        "references": list(page.references),
    }


def page_from_json(doc: dict[str, Any], row: Any) -> ProjectPage:
    """Rebuild a page from its stored form and the row's revision metadata."""
    objective = doc.get("objective")
    return ProjectPage(
        name=doc.get("name", ""),
        problem=doc.get("problem", ""),
        value=doc.get("value", ""),
        feasibility=doc.get("feasibility", ""),
        expectations=doc.get("expectations", ""),
        objective=None
        if not objective
        else Objective(metric=objective["metric"], direction=objective["direction"]),
        constraints=tuple(
            Constraint(metric=c["metric"], op=c["op"], value=float(c["value"]))
            for c in doc.get("constraints", [])
        ),
        references=tuple(doc.get("references", [])),
        revision=int(row["revision"]),
        updated_at=required(row["changed_at"]),
        updated_by=row["changed_by"],
    )
