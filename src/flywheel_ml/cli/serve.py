"""``flywheel serve``: the prediction gateway and deployment moves (canary, shadow, rollback)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any

import typer

from flywheel_ml.cli.context import emit, open_ws

if TYPE_CHECKING:
    from rich.console import Console

    from flywheel_ml.serve.entities import Deployment, DeploymentMove
    from flywheel_ml.serve.stage import ServeStage

app = typer.Typer(
    help="Deployments (champion, canary, shadow, promote, rollback), the prediction gateway "
    "and the prediction log.",
    no_args_is_help=True,
)

_SINCE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}

Reason = Annotated[str, typer.Option(help="Why; kept in the deployment history.")]
ModelArg = Annotated[
    str | None, typer.Argument(help="Model name (default: the only deployed model).")
]


def _state_json(state: Deployment) -> dict[str, Any]:
    from flywheel_ml.backends.sql.serve_store import deployment_to_json

    return deployment_to_json(state)


def _move_json(move: DeploymentMove, unconfirmed: list[str]) -> dict[str, Any]:
    return {
        "seq": move.seq,
        "kind": move.kind,
        "reason": move.reason,
        "deployment": _state_json(move.state),
        "unconfirmed_gateways": unconfirmed,
    }


def _describe(state: Deployment) -> str:
    text = f"{state.model}: champion {state.champion}"
    if state.canary:
        text += f", canary {state.canary} at {state.canary_percent:g}%"
    if state.shadow:
        text += f", shadow {state.shadow}"
    return text


def _emit_move(move: DeploymentMove, stage: ServeStage) -> None:
    unconfirmed = list(stage.last_unconfirmed)

    def render(out: Console) -> None:
        out.print(f"{move.kind}: {_describe(move.state)} (revision {move.state.revision})")
        for line in unconfirmed:
            out.print(f"warning: gateway did not confirm: {line}")

    emit(_move_json(move, unconfirmed), render)


def _model(stage: ServeStage, model: str | None) -> str:
    from flywheel_ml.errors import InvalidInputError
    from flywheel_ml.serve.entities import parse_ref

    if model:
        return parse_ref(model)[0] if "@" in model else model
    names = [d.model for d in stage.list_deployments()]
    if len(names) == 1:
        return names[0]
    raise InvalidInputError(
        "name the model" if names else "no model is deployed",
        hint=f"deployed: {', '.join(names)}" if names else "flywheel serve deploy NAME@VERSION",
    )


def parse_since(text: str) -> datetime:
    """``1h``, ``30m``, ``2d``, ``90s``, ``1w`` ago, or an ISO-8601 time (UTC if naive)."""
    from flywheel_ml.core.clock import as_utc, utc_now
    from flywheel_ml.errors import InvalidInputError

    match = _SINCE_RE.match(text)
    if match:
        return utc_now() - timedelta(seconds=float(match[1]) * _UNITS[match[2]])
    try:
        return as_utc(datetime.fromisoformat(text))
    except ValueError:
        raise InvalidInputError(
            f"--since {text!r} is neither a duration nor a time",
            hint="e.g. --since 1h, --since 30m or --since 2026-05-01T12:00",
        ) from None


@app.command("start")
def start_command(
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    max_batch_rows: Annotated[int, typer.Option(help="Rows predicted together at most.")] = 64,
    max_queue: Annotated[int, typer.Option(help="Waiting requests before 503.")] = 1024,
) -> None:
    """Run the prediction gateway (POST /v1/models/NAME/predict) until Ctrl-C."""
    from flywheel_ml.server.gateway import GatewayConfig
    from flywheel_ml.server.run import run_gateway

    with open_ws() as ws:
        config = GatewayConfig(max_batch_rows=max_batch_rows, max_queue=max_queue)
        typer.echo(f"Serving on http://{host}:{port} (Ctrl-C to stop)", err=True)
        run_gateway(ws, host=host, port=port, config=config)


@app.command("deploy")
def deploy_command(
    ref: Annotated[str, typer.Argument(help="Model version, e.g. digits-clf@v3.")],
    reason: Reason = "",
) -> None:
    """Make REF the champion of its model (the old one is kept for rollback)."""
    with open_ws() as ws:
        move = ws.serve.deploy(ref, reason=reason)
        _emit_move(move, ws.serve)


@app.command("canary")
def canary_command(
    ref: Annotated[str, typer.Argument(help="Model version, e.g. digits-clf@v4.")],
    percent: Annotated[float, typer.Option(help="Share of traffic, sticky by request key.")] = 10,
    reason: Reason = "",
) -> None:
    """Send PERCENT of traffic to REF (requests with the same key stay on one side)."""
    with open_ws() as ws:
        move = ws.serve.canary(ref, percent=percent, reason=reason)
        _emit_move(move, ws.serve)


@app.command("shadow")
def shadow_command(
    ref: Annotated[str, typer.Argument(help="Model version (or, with --stop, model name).")],
    stop: Annotated[bool, typer.Option("--stop", help="Stop the model's shadow.")] = False,
    reason: Reason = "",
) -> None:
    """Give REF a copy of all traffic; its answers are logged, never returned."""
    with open_ws() as ws:
        if stop:
            move = ws.serve.unshadow(_model(ws.serve, ref), reason=reason)
        else:
            move = ws.serve.shadow(ref, reason=reason)
        _emit_move(move, ws.serve)


@app.command("promote")
def promote_command(model: ModelArg = None, reason: Reason = "") -> None:
    """Make the canary (or shadow) the champion; returns once running gateways serve it."""
    with open_ws() as ws:
        move = ws.serve.promote(_model(ws.serve, model), reason=reason)
        _emit_move(move, ws.serve)


@app.command("rollback")
def rollback_command(model: ModelArg = None, reason: Reason = "") -> None:
    """Drop the canary, else go back to the previous champion; returns once gateways obey."""
    with open_ws() as ws:
        move = ws.serve.rollback(_model(ws.serve, model), reason=reason)
        _emit_move(move, ws.serve)


@app.command("status")
def status_command(model: ModelArg = None) -> None:
    """Traffic split, and how often the canary and shadow disagree with the champion."""
    with open_ws() as ws:
        status = ws.serve.status(_model(ws.serve, model))
    data = {
        "deployment": _state_json(status.deployment),
        "traffic": status.traffic,
        "logged_rows_24h": status.logged_rows,
        "disagreements": [
            {"ref": d.ref, "role": d.role, "rows": d.rows, "disagree_rate": d.disagree_rate}
            for d in status.disagreements
        ],
    }

    def render(out: Console) -> None:
        out.print(_describe(status.deployment))
        for ref, share in status.traffic.items():
            out.print(f"  {ref}: {share:g}% of traffic")
        for d in status.disagreements:
            rate = "no rows logged yet" if d.disagree_rate is None else f"{d.disagree_rate:.2%}"
            out.print(f"  {d.role} {d.ref} disagrees with the champion: {rate} ({d.rows} rows)")
        out.print(f"  {status.logged_rows} rows logged in the last 24 h")

    emit(data, render)


@app.command("history")
def history_command(model: ModelArg = None) -> None:
    """Every deployment move: what, who, when, why."""
    with open_ws() as ws:
        name = _model(ws.serve, model)
        history = ws.serve.history(name)
    data = [
        {
            "seq": m.seq,
            "kind": m.kind,
            "at": m.at,
            "actor": m.actor,
            "reason": m.reason,
            "deployment": _state_json(m.state),
        }
        for m in history
    ]

    def render(out: Console) -> None:
        for m in history:
            when = "" if m.at is None else f"{m.at:%Y-%m-%d %H:%M:%S}"
            why = f" — {m.reason}" if m.reason else ""
            out.print(f"{when} {m.actor} {m.kind}: {_describe(m.state)}{why}")

    emit(data, render)


@app.command("log")
def log_command(
    since: Annotated[str, typer.Option(help="Duration (1h, 30m, 2d) or ISO time.")] = "1h",
    model: Annotated[str | None, typer.Option(help="Only this model.")] = None,
    limit: Annotated[int, typer.Option(help="Show at most this many rows (newest).")] = 20,
) -> None:
    """The prediction log: one row per predicted input row."""
    start = parse_since(since)
    with open_ws() as ws:
        frame = ws.serve.read_log(since=start, model=model)
    shown = frame.tail(limit)
    columns = [
        "ts",
        "request_id",
        "version",
        "key",
        "prediction",
        "latency_ms",
        "shadow_version",
        "shadow_prediction",
    ]
    rows = [
        {c: (None if _missing(v) else v) for c, v in zip(columns, values, strict=True)}
        for values in shown[columns].itertuples(index=False, name=None)
    ]
    data = {"since": start, "rows_total": len(frame), "rows": rows}

    def render(out: Console) -> None:
        from rich.table import Table

        table = Table("ts (UTC)", "request", "version", "key", "prediction", "ms", "shadow")
        for r in rows:
            shadow = (
                f"{r['shadow_version']}: {r['shadow_prediction']}" if r["shadow_version"] else ""
            )
            table.add_row(
                f"{r['ts']:%H:%M:%S.%f}"[:-3],
                str(r["request_id"])[-8:],
                str(r["version"]),
                str(r["key"] or ""),
                str(r["prediction"]),
                f"{r['latency_ms']:.2f}",
                shadow,
            )
        out.print(f"{len(frame)} rows since {start:%Y-%m-%d %H:%M:%S} UTC")
        if rows:
            out.print(table)

    emit(data, render)


def _missing(value: Any) -> bool:
    import pandas as pd

    return value is None or (not isinstance(value, str | list) and bool(pd.isna(value)))
