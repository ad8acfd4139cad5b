"""The monitor stage's page: drift of each deployed model, fired alerts, rules, and the turns of
the flywheel (one row per turn with the objective before and after)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from flywheel_ml.backends.sql.monitor_store import turn_to_json
from flywheel_ml.errors import FlywheelError
from flywheel_ml.server import pages
from flywheel_ml.workspace import Workspace

_WINDOW = timedelta(hours=24)


def _drift(ws: Workspace, model: str) -> dict[str, Any]:
    try:
        report = ws.monitor.drift(model, since=_WINDOW)
    except FlywheelError as exc:
        return {"model": model, "error": str(exc)}
    return {
        "model": model,
        "error": None,
        "reference": report.reference,
        "rows": report.rows,
        "drifted": list(report.drifted),
        "columns": [
            {"column": c.column, "role": c.role, "test": c.test, "psi": c.psi,
             "effect": c.effect, "p_adjusted": c.p_adjusted, "drifted": c.drifted}
            for c in sorted(report.columns, key=lambda c: (not c.drifted, -c.psi))
        ],
    }  # fmt: skip


def monitor_data(ws: Workspace) -> dict[str, Any]:
    """Drift per deployed model (last 24 h), alerts, rules with their last evaluation, turns."""
    rules = []
    for rule in ws.monitor.list_rules():
        last = ws.monitor.evaluations(rule_id=rule.id, limit=1)
        rules.append({
            "id": rule.id, "expression": rule.expression, "model": rule.model,
            "notify": list(rule.notify),
            "last": None if not last else {"at": last[0].at, "value": last[0].value,
                                           "fired": last[0].fired},
        })  # fmt: skip
    alerts = [
        {"at": a.at, "model": a.model, "message": a.message, "deliveries": dict(a.deliveries)}
        for a in ws.monitor.alerts(limit=50)
    ]
    turns = [turn_to_json(t) for t in ws.monitor.turns(limit=50)]
    drift = [_drift(ws, d.model) for d in ws.serve.list_deployments()]
    return {"drift": drift, "alerts": alerts, "rules": rules, "turns": turns}


def monitor_page(request: Request) -> Response:
    """Drift, alerts, rules and turns."""
    data = monitor_data(pages.workspace(request))
    return pages.render(request, "monitor/monitor.html", data, stage="monitor")


def api_monitor(request: Request) -> Response:
    """Monitor.
    ---
    summary: Drift of each deployed model (24 h), fired alerts, rules, turns of the flywheel
    responses:
      200: {description: drift, alerts, rules and turns}
    """
    return pages.json_response(monitor_data(pages.workspace(request)))


def routes() -> list[BaseRoute]:
    """The monitor page and its JSON."""
    return [
        Route("/ui/monitor", monitor_page, include_in_schema=False),
        Route("/api/v1/monitor", api_monitor),
    ]
