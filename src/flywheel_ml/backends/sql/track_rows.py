"""Rows of the track tables to and from entities: params, tags, datasets, artifacts, runs."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from flywheel_ml.backends.sql.tables import workspace_events
from flywheel_ml.backends.sql.timestamps import aware, required
from flywheel_ml.backends.sql.track_tables import (
    track_artifacts,
    track_datasets,
    track_params,
    track_series,
    track_tags,
)
from flywheel_ml.core.identity import current_actor
from flywheel_ml.core.ids import new_id
from flywheel_ml.track.entities import Artifact, Lineage, MetricSummary, NewRun, Run, RunStatus
from flywheel_ml.track.names import param_from_text

_CHUNK = 500


def put_params(
    conn: Connection,
    run_id: str,
    params: Mapping[str, tuple[str, float | None]],
    *,
    new_run: bool = False,
) -> None:
    """Insert or replace parameters (``new_run``: nothing to replace, skip the delete)."""
    if not params:
        return
    if not new_run:
        conn.execute(
            track_params.delete().where(
                track_params.c.run_id == run_id, track_params.c.key.in_(list(params))
            )
        )
    conn.execute(
        track_params.insert(),
        [{"run_id": run_id, "key": k, "value": v[0], "num": v[1]} for k, v in params.items()],
    )


def put_tags(
    conn: Connection, run_id: str, tags: Mapping[str, str], *, new_run: bool = False
) -> None:
    """Insert or replace tags (``new_run``: nothing to replace, skip the delete)."""
    if not tags:
        return
    if not new_run:
        conn.execute(
            track_tags.delete().where(
                track_tags.c.run_id == run_id, track_tags.c.key.in_(list(tags))
            )
        )
    conn.execute(
        track_tags.insert(), [{"run_id": run_id, "key": k, "value": v} for k, v in tags.items()]
    )


def put_datasets(conn: Connection, run_id: str, datasets: Iterable[tuple[str, str]]) -> None:
    wanted = dict(datasets)
    if not wanted:
        return
    conn.execute(
        track_datasets.delete().where(
            track_datasets.c.run_id == run_id, track_datasets.c.ref.in_(list(wanted))
        )
    )
    conn.execute(
        track_datasets.insert(),
        [{"run_id": run_id, "ref": ref, "name": name} for ref, name in wanted.items()],
    )


def put_artifact(
    conn: Connection, run_id: str, artifact: Artifact, *, new_run: bool = False
) -> None:
    """Insert or replace an artifact (``new_run``: nothing to replace, skip the delete)."""
    if not new_run:
        conn.execute(
            track_artifacts.delete().where(
                track_artifacts.c.run_id == run_id, track_artifacts.c.name == artifact.name
            )
        )
    conn.execute(
        track_artifacts.insert().values(
            run_id=run_id,
            name=artifact.name,
            kind=artifact.kind,
            digest=artifact.digest,
            size=artifact.size,
            meta=dict(artifact.meta),
            created_at=artifact.created_at,
        )
    )


def run_event(conn: Connection, kind: str, run: NewRun, at: datetime) -> None:
    event(conn, kind, f"{run.name} ({run.id[-8:]})", {"run": run.id}, at, actor=run.created_by)


def event(
    conn: Connection,
    kind: str,
    subject: str,
    detail: Mapping[str, Any],
    at: datetime,
    *,
    actor: str | None = None,
) -> None:
    conn.execute(
        workspace_events.insert().values(
            id=new_id(),
            stage="track",
            kind=kind,
            subject=subject[:300],
            detail=dict(detail),
            actor=actor or current_actor(),
            at=at,
        )
    )


def lineage_to_json(lineage: Lineage) -> dict[str, Any]:
    """The stored (and ``--json``) form of a lineage."""
    doc = dataclasses.asdict(lineage)
    doc["command"] = list(lineage.command)
    return doc


def lineage_from_json(doc: Mapping[str, Any]) -> Lineage:
    """A lineage back from its stored form (unknown keys ignored)."""
    names = {f.name for f in dataclasses.fields(Lineage)}
    values = {k: v for k, v in doc.items() if k in names}
    values["command"] = tuple(values.get("command") or ())
    return Lineage(**values)


def build_runs(conn: Connection, rows: Sequence[sa.RowMapping]) -> list[Run]:
    if not rows:
        return []
    ids = [r["id"] for r in rows]
    params: dict[str, dict[str, Any]] = {i: {} for i in ids}
    tags: dict[str, dict[str, str]] = {i: {} for i in ids}
    datasets: dict[str, list[str]] = {i: [] for i in ids}
    summaries: dict[str, dict[str, MetricSummary]] = {i: {} for i in ids}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        for run_id, key, value in conn.execute(
            sa.select(track_params.c.run_id, track_params.c.key, track_params.c.value).where(
                track_params.c.run_id.in_(chunk)
            )
        ):
            params[run_id][key] = param_from_text(value)
        for run_id, key, value in conn.execute(
            sa.select(track_tags.c.run_id, track_tags.c.key, track_tags.c.value).where(
                track_tags.c.run_id.in_(chunk)
            )
        ):
            tags[run_id][key] = value
        for run_id, ref in conn.execute(
            sa.select(track_datasets.c.run_id, track_datasets.c.ref)
            .where(track_datasets.c.run_id.in_(chunk))
            .order_by(track_datasets.c.ref)
        ):
            datasets[run_id].append(ref)
        s = track_series.c
        for run_id, key, last, step, low, high, count in conn.execute(
            sa.select(
                s.run_id, s.key, s.last_value, s.last_step, s.min_value, s.max_value, s.count
            ).where(s.run_id.in_(chunk), s.count > 0)
        ):
            summaries[run_id][key] = MetricSummary(
                last=float(last), step=int(step), min=float(low), max=float(high), count=int(count)
            )
    return [
        Run(
            id=r["id"],
            name=r["name"],
            status=_status(r["status"]),
            params=params[r["id"]],
            metrics={k: v.last for k, v in sorted(summaries[r["id"]].items())},
            tags=tags[r["id"]],
            lineage=lineage_from_json(r["lineage"] or {}),
            datasets=tuple(datasets[r["id"]]),
            started_at=required(r["started_at"]),
            ended_at=aware(r["ended_at"]),
            summaries=dict(sorted(summaries[r["id"]].items())),
            deleted=r["deleted_at"] is not None,
            created_by=r["created_by"],
        )
        for r in rows
    ]


def _status(text: str) -> RunStatus:
    return text  # type: ignore[return-value]
