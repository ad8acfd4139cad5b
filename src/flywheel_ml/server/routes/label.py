"""The label stage's pages: ``/ui/label`` (guide, queues, agreement, hard items) and the
annotation page ``/ui/label/queues/{queue}`` (one item at a time; every submit is a durable
annotation, only on a server started with ``--write``)."""

from __future__ import annotations

import math
import re
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from flywheel_ml.errors import InvalidInputError, NotFoundError
from flywheel_ml.label.guide import guide_json
from flywheel_ml.label.stage import TaskView
from flywheel_ml.server import pages
from flywheel_ml.server.queue_scope import queue_scope
from flywheel_ml.workspace import Workspace

_KEYS = "1234567890"
"""Keyboard shortcut of the first ten classes, in guide order."""
_MEDIA_TYPES = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
    "bmp": "image/bmp",
    "txt": "text/plain; charset=utf-8",
    "md": "text/plain; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "tsv": "text/tab-separated-values; charset=utf-8",
    "json": "application/json",
}
"""Content type by the stored file's suffix. Anything else (SVG and HTML included: they can
carry scripts) is sent as an attachment of type application/octet-stream."""
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@:-]{0,199}")
"""What a dataset version reference or an item id may look like in the item-file route."""
_TEXT_SHOWN = 100_000
"""Bytes of a text item shown on the annotation page."""


def label_data(ws: Workspace) -> dict[str, Any]:
    """The guide, queues with progress per annotator, the human baseline and hard items."""
    guide = ws.label.guide()
    queues = []
    for q in ws.label.queues():
        progress = ws.label.progress(q.name)
        queues.append(
            {
                "name": q.name,
                "dataset": q.dataset,
                "version": q.version,
                "strategy": q.strategy,
                "model": q.model,
                "created_at": q.created_at,
                "created_by": q.created_by,
                "progress": [
                    {"annotator": p.annotator, "open": p.open, "done": p.done, "skipped": p.skipped}
                    for p in progress
                ],
            }
        )
    hard = ws.label.hard_items()
    return {
        "guide": None if guide is None else guide_json(guide),
        "queues": queues,
        "baseline": ws.label.human_baseline(),
        "hard": [
            {
                "dataset": a.dataset,
                "item": a.item,
                "annotator": a.annotator,
                "note": a.note,
                "at": a.created_at,
            }
            for a in hard[-50:]
        ],
        "annotations": len(ws.label.annotations()),
        "stale": len(ws.label.stale_items()),
    }


def task_json(view: TaskView | None, *, queue: str, annotator: str) -> dict[str, Any]:
    """The annotator's next task as JSON data (``task`` is None when nothing is left)."""
    if view is None:
        return {"queue": queue, "annotator": annotator, "task": None, "remaining": 0}
    t = view.task
    guide = view.guide
    classes = (
        []
        if guide is None
        else [
            {
                "name": c.name,
                "definition": c.definition,
                "key": _KEYS[i] if i < len(_KEYS) else "",
                "positive": list(c.positive),
                "negative": list(c.negative),
            }
            for i, c in enumerate(guide.classes)
        ]
    )
    content = {k: _plain(v) for k, v in view.content.items()}
    return {
        "queue": queue,
        "annotator": annotator,
        "remaining": view.remaining,
        "kind": view.kind,
        "task": {
            "item": t.item,
            "assigned_to": t.annotator,
            "prelabel": t.prelabel,
            "confidence": t.confidence,
            "score": t.score,
            "provenance": t.provenance,
        },
        "content": content,
        "guide": None
        if guide is None
        else {
            "version": guide.version,
            "kind": guide.kind,
            "classes": classes,
            "hard_cases": list(guide.hard_cases),
            "notes": guide.notes,
        },
    }


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _scoped_label_data(request: Request) -> dict[str, Any]:
    data = label_data(pages.workspace(request))
    scope = queue_scope(request)
    return data if scope is None else scope.label_data(data)


def label_page(request: Request) -> Response:
    """The label stage: guide, queues, baseline, hard items (an annotator's own only)."""
    data = _scoped_label_data(request)
    return pages.render(request, "label/index.html", data, stage="label")


def api_label(request: Request) -> Response:
    """The label stage.
    ---
    summary: The label document, queues with progress, the human baseline and hard items
    responses: {200: {description: guide, queues, baseline, hard items}}
    """
    return pages.json_response(_scoped_label_data(request))


def _annotator(request: Request) -> str:
    principal = request.scope.get(pages.PRINCIPAL_SCOPE_KEY)
    if principal is not None:
        return str(principal.user)  # the team server: the signed-in user annotates
    return pages.query_text(request, "annotator", limit=200) or pages.settings(request).actor


def annotate_page(request: Request) -> Response:
    """One item at a time for one annotator, with the guide, the pre-label and shortcuts."""
    ws = pages.workspace(request)
    scope = queue_scope(request)
    if scope is not None:
        scope.require(request.path_params["queue"])
    queue = ws.label.get_queue(request.path_params["queue"])
    annotator = _annotator(request)
    view = ws.label.next_task(queue.name, annotator)
    data = task_json(view, queue=queue.name, annotator=annotator)
    data["queue_info"] = {
        "name": queue.name,
        "strategy": queue.strategy,
        "model": queue.model,
        "annotators": [a for a in queue.annotators if scope is None or scope.mine(a)],
        "version": queue.version,
    }
    data["last"] = pages.query_text(request, "done", limit=300)
    data["table_rows"] = [{"column": k, "value": v} for k, v in data.get("content", {}).items()]
    data["file_url"] = data["file_text"] = None
    if view is not None and "object" in view.content:  # a file of a folder dataset
        ref = queue.version or f"{queue.dataset}@latest"
        data["file_url"] = f"/api/v1/label/items/{quote(ref)}/{quote(view.task.item)}"
        if view.kind == "text":
            body, _ = ws.data.item_file(ref, view.task.item)
            data["file_text"] = body[:_TEXT_SHOWN].decode("utf-8", errors="replace")
    return pages.render(request, "label/annotate.html", data, stage="label")


def api_item_file(request: Request) -> Response:
    """The bytes of one file of a folder dataset version.
    ---
    summary: An item's file (image, text, ...) by dataset version and item id, for the
      annotation page; read-only
    parameters:
      - {name: version, in: path, required: true, schema: {type: string}}
      - {name: item, in: path, required: true, schema: {type: string}}
    responses:
      200: {description: "the file's bytes; content type from the stored file's suffix"}
      404: {description: "no such version or item, or a table dataset"}
      422: {description: a version or item id that is not a plain name (e.g. a path)}
    """
    ref, item = request.path_params["version"], request.path_params["item"]
    for what, value in (("dataset version", ref), ("item id", item)):
        # Files are found by id in the version's manifest, never by path; a path-like id
        # is refused outright rather than looked up.
        if not _SAFE_NAME.fullmatch(value) or ".." in value:
            raise InvalidInputError(
                f"{value[:100]!r} is not a {what}",
                hint="use a version like digits@v2 and an item id from the queue",
            )
    ws = pages.workspace(request)
    scope = queue_scope(request)
    if scope is not None and not _in_queues(ws, scope.queues, ref, item):
        # An annotator sees the items of their own queues only, worded as a missing item.
        raise NotFoundError(f"{ref} has no item {item!r}", hint="see your queue")
    body, path = ws.data.item_file(ref, item)
    suffix = path.rsplit(".", 1)[-1].lower() if "." in path.rsplit("/", 1)[-1] else ""
    media_type = _MEDIA_TYPES.get(suffix)
    headers = {"cache-control": "private, max-age=300"}
    if media_type is None:
        media_type = "application/octet-stream"
        headers["content-disposition"] = "attachment"
    return Response(body, media_type=media_type, headers=headers)


def _in_queues(ws: Workspace, queues: frozenset[str], ref: str, item: str) -> bool:
    dataset = ws.data.get_version(ref).dataset
    return any(
        q.dataset == dataset and any(t.item == item for t in ws.label.tasks(q.name))
        for q in ws.label.queues()
        if q.name in queues
    )


def api_next(request: Request) -> Response:
    """The next task of an annotator.
    ---
    summary: The annotator's next open task in a queue, with the item's content and the guide
    parameters:
      - {name: queue, in: path, required: true, schema: {type: string}}
      - {name: annotator, in: query, schema: {type: string}}
    responses: {200: {description: "task (null when done), content, guide, remaining"}}
    """
    ws = pages.workspace(request)
    queue = request.path_params["queue"]
    scope = queue_scope(request)
    if scope is not None:
        scope.require(queue)
    annotator = _annotator(request)
    return pages.json_response(
        task_json(ws.label.next_task(queue, annotator), queue=queue, annotator=annotator)
    )


def _duration(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


def _answer(request: Request, form: dict[str, str]) -> dict[str, Any]:
    pages.require_write(request, form)  # a read-only server refuses before anything else
    ws = pages.workspace(request)
    queue = request.path_params["queue"]
    scope = queue_scope(request)
    if scope is not None:
        scope.require(queue)  # before anything is written
    item = form.get("item", "").strip()
    if not item:
        raise InvalidInputError("no item named", hint="send the item id of the task")
    action = form.get("action", "submit")
    label = form.get("label", "").strip()
    hard = form.get("hard", "").lower() in {"1", "true", "on", "yes"}
    note = form.get("note", "").strip()[:2000]
    duration = _duration(form.get("duration", ""))

    def act(actor: str) -> dict[str, Any]:
        principal = request.scope.get(pages.PRINCIPAL_SCOPE_KEY)
        who = actor if principal is not None else (form.get("annotator") or actor).strip()
        if action == "skip":
            ws.label.skip(queue, item, who)
            return {"item": item, "annotator": who, "status": "skipped"}
        if not label and not hard:
            raise InvalidInputError("no label chosen", hint="pick a class, skip, or tag it hard")
        made = ws.label.submit(
            queue, item, who, label or None, duration_s=duration, hard=hard, note=note
        )
        return {"item": item, "annotator": who, "status": "done", "annotation": made}

    result: dict[str, Any] = pages.write_action(
        request,
        form=form,
        stage="label",
        kind="annotation" if action != "skip" else "skip",
        subject=f"{queue}/{item}",
        action=act,
        detail={"queue": queue},
    )
    return result


async def post_answer(request: Request) -> Response:
    """The annotation form: store the answer, then show the next item."""
    from urllib.parse import urlencode

    from starlette.concurrency import run_in_threadpool

    form = await pages.read_form(request)
    result = await run_in_threadpool(_answer, request, form)
    query = urlencode({"annotator": result["annotator"], "done": result["item"]})
    return RedirectResponse(
        f"/ui/label/queues/{request.path_params['queue']}?{query}", status_code=303
    )


async def api_answer(request: Request) -> Response:
    """Answer a task.
    ---
    summary: Label, tag hard or skip a task (a durable annotation); needs --write
    parameters:
      - {name: queue, in: path, required: true, schema: {type: string}}
    requestBody:
      content:
        application/json:
          schema:
            type: object
            properties:
              item: {type: string}
              annotator: {type: string}
              label: {type: string}
              action: {type: string, enum: [submit, skip]}
              hard: {type: boolean}
              note: {type: string}
              duration: {type: number}
    responses:
      200: {description: the stored annotation or the skip}
      403: {description: the server is read-only}
      404: {description: no open task for this item and annotator}
    """
    from starlette.concurrency import run_in_threadpool

    form = await pages.read_form(request)
    return pages.json_response(await run_in_threadpool(_answer, request, form))


def api_agreement(request: Request) -> Response:
    """The human baseline.
    ---
    summary: The newest recorded agreement (human baseline) of a dataset
    parameters:
      - {name: dataset, in: query, schema: {type: string}}
    responses: {200: {description: "agreement measures, or null"}}
    """
    ws = pages.workspace(request)
    dataset = pages.query_text(request, "dataset", limit=100) or None
    baseline = ws.label.human_baseline(dataset)
    scope = queue_scope(request)
    return pages.json_response(baseline if scope is None else scope.baseline(baseline))


def routes() -> list[BaseRoute]:
    """The label stage's HTML and JSON routes."""
    return [
        Route("/ui/label", label_page, include_in_schema=False),
        Route("/ui/label/queues/{queue}", annotate_page, include_in_schema=False),
        Route("/ui/label/queues/{queue}", post_answer, methods=["POST"], include_in_schema=False),
        Route("/api/v1/label", api_label),
        Route("/api/v1/label/agreement", api_agreement),
        Route("/api/v1/label/queues/{queue}/next", api_next),
        Route("/api/v1/label/queues/{queue}/answer", api_answer, methods=["POST"]),
        Route("/api/v1/label/items/{version}/{item}", api_item_file),
    ]
