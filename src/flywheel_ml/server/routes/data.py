"""The data stage's pages: datasets and versions, a version's schema, class balance, feature
histograms, splits, checks and slices; the diff of two versions; the sealed-test audit log; the
data document.

Reading a version for histograms never reads sealed test labels (``load`` without a purpose
leaves them empty) and records nothing. Versions are immutable, so what is computed from a
version's items is cached by its digest.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

import numpy as np
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from flywheel_ml.data.checks import run_checks
from flywheel_ml.data.entities import DatasetVersion
from flywheel_ml.errors import InvalidInputError
from flywheel_ml.server import pages
from flywheel_ml.workspace import Workspace

_BINS = 20
_MAX_HISTOGRAMS = 16
_MAX_DIFF_IDS = 200
_CACHE_SIZE = 32


class _ProfileCache:
    """Item-derived facts of immutable versions, by digest (bounded, thread-safe)."""

    def __init__(self) -> None:
        self._items: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: str, value: dict[str, Any]) -> None:
        with self._lock:
            self._items[key] = value
            while len(self._items) > _CACHE_SIZE:
                self._items.popitem(last=False)


_PROFILES = _ProfileCache()


def version_json(version: DatasetVersion) -> dict[str, Any]:
    """A version's record (without its facts)."""
    return {
        "ref": version.ref,
        "digest": version.digest,
        "short": version.short,
        "dataset": version.dataset,
        "number": version.number,
        "parent": version.parent,
        "message": version.message,
        "author": version.author,
        "created_at": version.created_at,
        "items": version.items,
        "size": version.size,
    }


def datasets_data(ws: Workspace) -> dict[str, Any]:
    """Every dataset with its versions (newest first), the split policy and the audit count."""
    data = ws.data
    datasets = []
    for dataset in data.list_datasets():
        versions = data.list_versions(dataset.name)
        datasets.append(
            {
                "name": dataset.name,
                "kind": dataset.kind,
                "role": dataset.role,
                "label": dataset.label,
                "id_column": dataset.id_column,
                "versions": [version_json(v) for v in reversed(versions)],
                "slices": [
                    {"name": s.name, "where": s.where} for s in data.list_slices(dataset.name)
                ],
                "document": data.document_path(dataset.name).is_file(),
            }
        )
    policy = data.split_policy()
    return {
        "datasets": datasets,
        "policy": {
            "train": policy.train,
            "val": policy.val,
            "test": policy.test,
            "seed": policy.seed,
        },
        "sealed_reads": len(data.audit()),
    }


def datasets_page(request: Request) -> Response:
    """Datasets and their versions."""
    return pages.render(
        request, "data/datasets.html", datasets_data(pages.workspace(request)), stage="data"
    )


def api_datasets(request: Request) -> Response:
    """Datasets.
    ---
    summary: Every dataset with its versions (newest first), slices and the split policy
    responses:
      200: {description: "datasets, policy, sealed_reads"}
    """
    return pages.json_response(datasets_data(pages.workspace(request)))


# -- one version ---------------------------------------------------------------------------------


def _histograms(frame: Any, skip: set[str]) -> list[dict[str, Any]]:
    import pandas as pd

    found = []
    for name in frame.columns:
        if name in skip or str(name).startswith("__"):
            continue
        series = frame[name]
        if pd.api.types.is_bool_dtype(series) or not pd.api.types.is_numeric_dtype(series):
            continue
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        values = values[np.isfinite(values)]
        if not len(values):
            continue
        counts, edges = np.histogram(values, bins=_BINS)
        found.append({"column": str(name), "counts": counts.tolist(), "edges": edges.tolist()})
        if len(found) >= _MAX_HISTOGRAMS:
            break
    return found


def _profile(ws: Workspace, version: DatasetVersion) -> dict[str, Any]:
    """Histograms, leaked items and the check findings of a version (cached by digest)."""
    cached = _PROFILES.get(version.digest)
    if cached is not None:
        return cached
    data = ws.data
    histograms: list[dict[str, Any]] = []
    if version.facts.get("kind") == "table":
        frame = data.load(version.digest)
        skip = {str(version.facts.get("label")), str(version.facts.get("id_column"))}
        histograms = _histograms(frame, skip)
    parent = None
    if version.parent is not None:
        parent = next(
            (v for v in data.list_versions(version.dataset) if v.digest == version.parent), None
        )
    leaked = data.leaked_items(version.digest)
    findings = run_checks(version.facts, None if parent is None else parent.facts, leaked=leaked)
    profile = {
        "histograms": histograms,
        "leaked": len(leaked),
        "compared_with": None if parent is None else parent.ref,
        "findings": [
            {"check": f.check, "severity": f.severity, "message": f.message} for f in findings
        ],
    }
    _PROFILES.put(version.digest, profile)
    return profile


def version_data(ws: Workspace, ref: str) -> dict[str, Any]:
    """Everything the version page shows."""
    data = ws.data
    version = data.get_version(ref)
    facts = version.facts
    profile = _profile(ws, version)
    slices = []
    for data_slice in data.list_slices(version.dataset):
        key = f"{version.digest}/slice/{data_slice.where}"
        counts = _PROFILES.get(key)
        if counts is None:
            counts = data.slice_counts(version.digest, data_slice.name)
            _PROFILES.put(key, counts)
        slices.append({"name": data_slice.name, "where": data_slice.where, "counts": counts})
    labels = sorted(facts.get("labels", {}).items(), key=lambda kv: (-kv[1], kv[0]))
    return {
        "version": version_json(version),
        "kind": facts.get("kind"),
        "label": facts.get("label"),
        "id_column": facts.get("id_column"),
        "schema": facts.get("schema", {}),
        "labels": labels,
        "splits": facts.get("splits", {}),
        "source": facts.get("source", {}),
        "duplicate_rows": facts.get("duplicate_rows", 0),
        "last_check": data.last_check(version.digest),
        "versions": [v.ref for v in reversed(data.list_versions(version.dataset))],
        "slices": slices,
        **profile,
    }


def version_page(request: Request) -> Response:
    """A version: schema, class balance, histograms, splits, checks, slices."""
    data = version_data(pages.workspace(request), request.path_params["ref"])
    return pages.render(request, "data/version.html", data, stage="data")


def api_version(request: Request) -> Response:
    """One dataset version.
    ---
    summary: A version's schema, class balance, feature histograms, splits, checks and slices
    parameters:
      - {name: ref, in: path, required: true, schema: {type: string}, example: "digits@v2"}
    responses:
      200: {description: the version}
      404: {description: no such dataset or version}
    """
    return pages.json_response(version_data(pages.workspace(request), request.path_params["ref"]))


# -- diff, audit, document -----------------------------------------------------------------------


def diff_data(ws: Workspace, old: str, new: str) -> dict[str, Any]:
    """Items added, removed, relabelled and changed from ``old`` to ``new`` (ids capped at 200).

    Raises:
        InvalidInputError: a version is missing from the request.
    """
    if not old or not new:
        raise InvalidInputError(
            "a diff needs two versions", hint="give old=NAME@vN and new=NAME@vM"
        )
    diff = ws.data.diff(old, new)
    parts = {}
    for name in ("added", "removed", "relabelled", "changed"):
        ids = getattr(diff, name)
        parts[name] = {"count": len(ids), "ids": list(ids[:_MAX_DIFF_IDS])}
    return {"old": diff.old, "new": diff.new, **parts}


def diff_page(request: Request) -> Response:
    """The diff of two versions (with pickers for both)."""
    ws = pages.workspace(request)
    old, new = pages.query_text(request, "old"), pages.query_text(request, "new")
    refs = [v.ref for d in ws.data.list_datasets() for v in reversed(ws.data.list_versions(d.name))]
    data: dict[str, Any] = {"refs": refs, "old": old, "new": new, "diff": None}
    if old and new:
        data["diff"] = diff_data(ws, old, new)
    return pages.render(request, "data/diff.html", data, stage="data")


def api_diff(request: Request) -> Response:
    """The diff of two versions.
    ---
    summary: Items added, removed, relabelled and changed between two versions
    parameters:
      - {name: old, in: query, required: true, schema: {type: string}, example: "digits@v1"}
      - {name: new, in: query, required: true, schema: {type: string}, example: "digits@v2"}
    responses:
      200: {description: "counts and up to 200 ids per kind of change"}
      422: {description: a version is missing}
    """
    old, new = pages.query_text(request, "old"), pages.query_text(request, "new")
    return pages.json_response(diff_data(pages.workspace(request), old, new))


def audit_data(ws: Workspace, dataset: str | None) -> list[dict[str, Any]]:
    """Every read of sealed test labels, newest first."""
    return [
        {
            "id": r.id,
            "dataset": r.dataset,
            "version": r.version,
            "purpose": r.purpose,
            "rows": r.rows,
            "actor": r.actor,
            "at": r.at,
        }
        for r in reversed(ws.data.audit(dataset=dataset))
    ]


def audit_page(request: Request) -> Response:
    """The sealed-test audit log."""
    dataset = pages.query_text(request, "dataset") or None
    reads = audit_data(pages.workspace(request), dataset)
    return pages.render(
        request, "data/audit.html", {"reads": reads, "dataset": dataset or ""}, stage="data"
    )


def api_audit(request: Request) -> Response:
    """The sealed-test audit log.
    ---
    summary: Every read of sealed test labels (who, when, which version, why), newest first
    parameters:
      - {name: dataset, in: query, schema: {type: string}}
    responses:
      200: {description: the reads}
    """
    dataset = pages.query_text(request, "dataset") or None
    return pages.json_response(audit_data(pages.workspace(request), dataset))


def document_markdown(ws: Workspace, name: str) -> str:
    """The data document of ``name`` as ``flywheel docs data`` would write it (not written)."""
    from flywheel_ml.reports.data_document import render_data_document

    path = ws.data.document_path(name)
    existing = path.read_text(encoding="utf-8") if path.is_file() else ""
    markdown, _unwritten = render_data_document(ws.data, name, existing=existing)
    return markdown


def document_page(request: Request) -> Response:
    """The data document, rendered from the recorded facts and the kept human sections."""
    from flywheel_ml.reports.data_document import document_html

    name = request.path_params["name"]
    html = document_html(document_markdown(pages.workspace(request), name))
    return pages.render(request, "data/document.html", {"name": name, "html": html}, stage="data")


def api_document(request: Request) -> Response:
    """A data document.
    ---
    summary: The data document of a dataset, as Markdown
    parameters:
      - {name: name, in: path, required: true, schema: {type: string}}
    responses:
      200: {description: "name, markdown"}
      404: {description: no such dataset}
    """
    name = request.path_params["name"]
    return pages.json_response(
        {"name": name, "markdown": document_markdown(pages.workspace(request), name)}
    )


def routes() -> list[BaseRoute]:
    """The data stage's HTML and JSON routes."""
    return [
        Route("/ui/data", datasets_page, include_in_schema=False),
        Route("/ui/data/diff", diff_page, include_in_schema=False),
        Route("/ui/data/audit", audit_page, include_in_schema=False),
        Route("/ui/data/versions/{ref}", version_page, include_in_schema=False),
        Route("/ui/data/documents/{name}", document_page, include_in_schema=False),
        Route("/api/v1/data", api_datasets),
        Route("/api/v1/data/diff", api_diff),
        Route("/api/v1/data/audit", api_audit),
        Route("/api/v1/data/versions/{ref}", api_version),
        Route("/api/v1/data/documents/{name}", api_document),
    ]
