"""The serve stage's pages: live deployments (champion / canary / shadow split), request rate and
latency from the prediction log, the deployment history, and promote / rollback.

Promote and rollback are two steps in the browser (a button leads to a confirmation form that
states what will change), work without JavaScript, and are refused unless the UI was started
with ``--write``. The JSON API takes ``POST /api/v1/serve/{model}/promote`` (or ``rollback``)
with ``{"reason": "..."}``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from flywheel_ml.core.clock import utc_now
from flywheel_ml.errors import ConflictError, InvalidInputError
from flywheel_ml.serve.entities import Deployment, DeploymentMove
from flywheel_ml.server import pages
from flywheel_ml.workspace import Workspace

Action = Literal["promote", "rollback"]
_ACTIONS: tuple[Action, ...] = ("promote", "rollback")
_WINDOW = timedelta(hours=24)
_MAX_REASON = 500


def deployment_json(state: Deployment) -> dict[str, Any]:
    """A deployment's live state with its traffic split in percent."""
    split = [{"role": "champion", "ref": state.champion, "percent": 100.0 - state.canary_percent}]
    if state.canary is not None:
        split.append({"role": "canary", "ref": state.canary, "percent": state.canary_percent})
    return {
        "model": state.model,
        "champion": state.champion,
        "canary": state.canary,
        "canary_percent": state.canary_percent,
        "shadow": state.shadow,
        "earlier_champions": list(state.earlier_champions),
        "revision": state.revision,
        "updated_at": state.updated_at,
        "updated_by": state.updated_by,
        "split": split,
        "can_promote": state.canary is not None or state.shadow is not None,
        "can_rollback": state.canary is not None or bool(state.earlier_champions),
    }


def move_json(move: DeploymentMove) -> dict[str, Any]:
    """One move of a deployment."""
    state = move.state
    return {
        "seq": move.seq,
        "kind": move.kind,
        "reason": move.reason,
        "at": move.at,
        "actor": move.actor,
        "champion": state.champion,
        "canary": state.canary,
        "canary_percent": state.canary_percent,
        "shadow": state.shadow,
        "revision": state.revision,
    }


def serve_data(ws: Workspace) -> dict[str, Any]:
    """Every deployment's live state."""
    return {"deployments": [deployment_json(d) for d in ws.serve.list_deployments()]}


def serve_page(request: Request) -> Response:
    """Every deployment."""
    return pages.render(
        request, "serve/deployments.html", serve_data(pages.workspace(request)), stage="serve"
    )


def api_serve(request: Request) -> Response:
    """Deployments.
    ---
    summary: Every deployment's live state (champion, canary with its share, shadow)
    responses:
      200: {description: deployments}
    """
    return pages.json_response(serve_data(pages.workspace(request)))


def traffic(log: Any, *, bucket_s: int) -> dict[str, Any]:
    """Requests per minute and latency percentiles per time bucket, and requests per version.

    ``log`` is the prediction log (one row per predicted input row); a request is counted once.
    """
    if log.empty:
        return {"bucket_s": bucket_s, "buckets": [], "by_version": {}, "requests": 0}
    requests = log.drop_duplicates("request_id")
    seconds = requests["ts"].astype("int64") // 10**6
    start = seconds // bucket_s * bucket_s
    grouped = requests.assign(bucket=start).groupby("bucket")["latency_ms"]
    counts = grouped.size()
    p50 = grouped.quantile(0.5)
    p95 = grouped.quantile(0.95)
    buckets = [
        {
            "start": int(b),
            "requests": int(counts[b]),
            "per_minute": float(counts[b]) * 60.0 / bucket_s,
            "latency_p50_ms": float(p50[b]),
            "latency_p95_ms": float(p95[b]),
        }
        for b in counts.index
    ]
    by_version = requests["version"].value_counts().to_dict()
    return {
        "bucket_s": bucket_s,
        "buckets": buckets,
        "by_version": {str(k): int(v) for k, v in by_version.items()},
        "requests": len(requests),
        "latency_p50_ms": float(requests["latency_ms"].quantile(0.5)),
        "latency_p95_ms": float(requests["latency_ms"].quantile(0.95)),
    }


def model_data(ws: Workspace, model: str) -> dict[str, Any]:
    """A deployment: state, disagreements, traffic of the last 24 hours, history."""
    stage = ws.serve
    status = stage.status(model, since=_WINDOW)
    log = stage.read_log(since=utc_now() - _WINDOW, model=model)
    span = 0.0
    if len(log):
        span = (log["ts"].max() - log["ts"].min()).total_seconds()
    bucket_s = 60 if span <= 3 * 3600 else 600
    return {
        "deployment": deployment_json(status.deployment),
        "traffic_share": status.traffic,
        "disagreements": [
            {"ref": d.ref, "role": d.role, "rows": d.rows, "disagree_rate": d.disagree_rate}
            for d in status.disagreements
        ],
        "logged_rows": status.logged_rows,
        "traffic": traffic(log, bucket_s=bucket_s),
        "history": [move_json(m) for m in reversed(stage.history(model))],
    }


def _charts(data: dict[str, Any]) -> dict[str, Any]:
    from flywheel_ml.server.charts import downsample, line_chart

    buckets = data["traffic"]["buckets"]
    if not buckets:
        return {}
    x = [b["start"] / 60 for b in buckets]
    x0 = x[0]
    minutes = [v - x0 for v in x]
    rate = line_chart(
        [downsample("requests / min", minutes, [b["per_minute"] for b in buckets])],
        x_title="minutes since first request", y_title="requests / min",
    )  # fmt: skip
    latency = line_chart(
        [
            downsample("p50", minutes, [b["latency_p50_ms"] for b in buckets]),
            downsample("p95", minutes, [b["latency_p95_ms"] for b in buckets]),
        ],
        x_title="minutes since first request", y_title="latency ms",
    )  # fmt: skip
    return {"rate": rate, "latency": latency}


def model_page(request: Request) -> Response:
    """A deployment with its traffic, history and the promote / rollback buttons."""
    data = model_data(pages.workspace(request), request.path_params["model"])
    data["charts"] = _charts(data)
    data["done"] = pages.query_text(request, "done", limit=20)
    return pages.render(request, "serve/model.html", data, stage="serve")


def api_model(request: Request) -> Response:
    """One deployment.
    ---
    summary: A deployment's state, disagreements, request rate and latency (24 h) and history
    parameters:
      - {name: model, in: path, required: true, schema: {type: string}}
    responses:
      200: {description: the deployment}
      404: {description: the model is not deployed}
    """
    return pages.json_response(model_data(pages.workspace(request), request.path_params["model"]))


# -- promote / rollback --------------------------------------------------------------------------


def _action(request: Request) -> Action:
    action = request.path_params["action"]
    if action not in _ACTIONS:
        raise InvalidInputError(f"unknown action {action!r}", hint="use promote or rollback")
    return action  # type: ignore[no-any-return]


def _outcome(state: Deployment, action: Action) -> str:
    """What the action will do, in one sentence, or a ConflictError when it cannot."""
    if action == "promote":
        target = state.canary or state.shadow
        if target is None:
            raise ConflictError(
                f"{state.model} has no canary or shadow to promote",
                hint="start a canary first: flywheel serve canary MODEL@vN --percent 10",
            )
        return f"{target} becomes the champion of {state.model}, replacing {state.champion}."
    if state.canary is not None:
        return f"The canary {state.canary} is dropped; {state.champion} answers every request."
    if state.earlier_champions:
        return (
            f"{state.champion} is replaced by the previous champion {state.earlier_champions[-1]}."
        )
    raise ConflictError(
        f"{state.model} has nothing to roll back to",
        hint="there is no canary and no earlier champion",
    )


def confirm_page(request: Request) -> Response:
    """The confirmation form of a promote or rollback (states what will change)."""
    ws = pages.workspace(request)
    action = _action(request)
    state = ws.serve.get(request.path_params["model"])
    outcome = _outcome(state, action)
    return pages.render(
        request,
        "serve/confirm.html",
        {"deployment": deployment_json(state), "action": action, "outcome": outcome},
        stage="serve",
    )


def _apply(request: Request, form: dict[str, str]) -> DeploymentMove:
    pages.require_write(request, form)  # a read-only server refuses before anything else
    ws = pages.workspace(request)
    action = _action(request)
    model = request.path_params["model"]
    reason = form.get("reason", "").strip()[:_MAX_REASON]
    state = ws.serve.get(model)
    _outcome(state, action)
    verb = ws.serve.promote if action == "promote" else ws.serve.rollback
    move: DeploymentMove = pages.write_action(
        request,
        form=form,
        stage="serve",
        kind=action,
        subject=model,
        action=lambda actor: verb(model, reason=reason, actor=actor),
        detail={"reason": reason, "revision": state.revision + 1},
    )
    return move


async def post_action(request: Request) -> Response:
    """The confirmed form: apply the move, then show the deployment."""
    from starlette.concurrency import run_in_threadpool

    form = await pages.read_form(request)
    await run_in_threadpool(_apply, request, form)
    model = request.path_params["model"]
    return RedirectResponse(f"/ui/serve/{model}?done={_action(request)}", status_code=303)


async def api_action(request: Request) -> Response:
    """Promote or roll back.
    ---
    summary: Promote the canary (or shadow), or roll back; needs a server started with --write
    parameters:
      - {name: model, in: path, required: true, schema: {type: string}}
      - {name: action, in: path, required: true, schema: {type: string, enum: [promote, rollback]}}
      - {name: X-Flywheel-User, in: header, schema: {type: string}, description: who acts}
    requestBody:
      content:
        application/json:
          schema: {type: object, properties: {reason: {type: string}}}
    responses:
      200: {description: "the move: seq, kind, state after it"}
      403: {description: the server is read-only}
      409: {description: nothing to promote or roll back}
    """
    from starlette.concurrency import run_in_threadpool

    form = await pages.read_form(request)
    move = await run_in_threadpool(_apply, request, form)
    unconfirmed = list(pages.workspace(request).serve.last_unconfirmed)
    return pages.json_response({**move_json(move), "unconfirmed_gateways": unconfirmed})


def routes() -> list[BaseRoute]:
    """The serve stage's HTML and JSON routes."""
    return [
        Route("/ui/serve", serve_page, include_in_schema=False),
        Route("/ui/serve/{model}", model_page, include_in_schema=False),
        Route("/ui/serve/{model}/{action}", confirm_page, include_in_schema=False),
        Route("/ui/serve/{model}/{action}", post_action, methods=["POST"], include_in_schema=False),
        Route("/api/v1/serve", api_serve),
        Route("/api/v1/serve/{model}", api_model),
        Route("/api/v1/serve/{model}/{action}", api_action, methods=["POST"]),
    ]
