"""The run filter grammar (:mod:`flywheel_ml.track.query`) translated to SQL.

Metric, parameter and tag clauses become ``EXISTS`` sub-queries on the narrow tables
(``track_series``, ``track_params``, ``track_tags``), each served by its index, so a filter over
thousands of runs never loads a run it does not return.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from flywheel_ml.backends.sql.track_tables import (
    track_datasets,
    track_params,
    track_runs,
    track_series,
    track_tags,
)
from flywheel_ml.track.query import Clause, OrderKey, RunQuery

_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_AGG_COLUMN = {"last": "last_value", "min": "min_value", "max": "max_value"}
_RUN_COLUMN = {
    "status": "status",
    "name": "name",
    "user": "created_by",
    "started": "started_at",
    "ended": "ended_at",
}


def run_filter(query: RunQuery) -> list[ColumnElement[bool]]:
    """The WHERE conditions of ``query`` (deleted runs excluded unless asked for)."""
    conditions: list[ColumnElement[bool]] = []
    if query.only_deleted:
        conditions.append(track_runs.c.deleted_at.is_not(None))
    elif not query.include_deleted:
        conditions.append(track_runs.c.deleted_at.is_(None))
    conditions.extend(_condition(c) for c in query.clauses)
    return conditions


def _compare(column: Any, op: str, value: Any) -> ColumnElement[bool]:
    if op == "~":
        return column.contains(str(value), autoescape=True)  # type: ignore[no-any-return]
    return _COMPARE[op](column, value)  # type: ignore[no-any-return]


def _condition(clause: Clause) -> ColumnElement[bool]:
    ref, op, value = clause.ref, clause.op, clause.value
    runs = track_runs.c
    if ref.field == "metric":
        s = track_series.alias()
        column = s.c[_AGG_COLUMN[ref.agg]]
        return sa.exists().where(
            s.c.run_id == runs.id, s.c.key == ref.key, s.c.count > 0, _compare(column, op, value)
        )
    if ref.field == "param":
        p = track_params.alias()
        if isinstance(value, float):
            test = _compare(p.c.num, op, value)
        elif op == "~":
            test = _compare(p.c.value, op, value)
        else:
            test = _compare(p.c.value, op, json.dumps(value))
        return sa.exists().where(p.c.run_id == runs.id, p.c.key == ref.key, test)
    if ref.field == "tag":
        t = track_tags.alias()
        return sa.exists().where(
            t.c.run_id == runs.id, t.c.key == ref.key, _compare(t.c.value, op, value)
        )
    if ref.field == "dataset":
        d = track_datasets.alias()
        text = str(value)
        match = d.c.ref == text if "@" in text else d.c.name == text
        found = sa.exists().where(d.c.run_id == runs.id, match)
        return found if op == "=" else ~found
    return _compare(track_runs.c[_RUN_COLUMN[ref.field]], op, value)


def run_order(stmt: sa.Select[Any], order: OrderKey | None) -> sa.Select[Any]:
    """``stmt`` sorted by ``order`` (newest first when None); missing values sort last."""
    runs = track_runs.c
    if order is None:
        return stmt.order_by(runs.started_at.desc(), runs.id.desc())
    ref = order.ref
    columns: list[Any]
    if ref.field == "metric":
        s = track_series.alias()
        stmt = stmt.outerjoin(s, sa.and_(s.c.run_id == runs.id, s.c.key == ref.key))
        columns = [s.c[_AGG_COLUMN[ref.agg]]]
    elif ref.field == "param":
        p = track_params.alias()
        stmt = stmt.outerjoin(p, sa.and_(p.c.run_id == runs.id, p.c.key == ref.key))
        columns = [p.c.num, p.c.value]
    elif ref.field == "tag":
        t = track_tags.alias()
        stmt = stmt.outerjoin(t, sa.and_(t.c.run_id == runs.id, t.c.key == ref.key))
        columns = [t.c.value]
    elif ref.field in _RUN_COLUMN:
        columns = [runs[_RUN_COLUMN[ref.field]]]
    else:
        columns = [runs.id]
    keys: list[Any] = []
    for column in columns:
        keys.append(column.is_(None))
        keys.append(column.desc() if order.descending else column.asc())
    return stmt.order_by(*keys, runs.started_at.desc(), runs.id.desc())
