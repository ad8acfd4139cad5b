"""The registry stage's pages: model versions, their sealed-test evaluations with pass/fail per
constraint and gate, alias history, and model cards."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from flywheel_ml.registry.entities import AliasMove, Evaluation, ModelVersion
from flywheel_ml.server import pages
from flywheel_ml.server.routes import registry_readiness
from flywheel_ml.workspace import Workspace


def version_json(version: ModelVersion, aliases: dict[str, int]) -> dict[str, Any]:
    """A model version with the aliases pointing at it."""
    return {
        "ref": version.ref,
        "name": version.name,
        "version": version.version,
        "run_id": version.run_id,
        "dataset": version.dataset,
        "git_commit": version.git_commit,
        "estimator": version.estimator,
        "artifact_format": version.artifact_format,
        "artifact_size": version.artifact_size,
        "artifact_digest": version.artifact_digest,
        "features": len(version.feature_names),
        "trusted": list(version.trusted),
        "description": version.description,
        "created_by": version.created_by,
        "created_at": version.created_at,
        "deleted": version.deleted,
        "aliases": sorted(a for a, v in aliases.items() if v == version.version),
    }


def evaluation_json(evaluation: Evaluation) -> dict[str, Any]:
    """An evaluation with its verdict per constraint and per gate (``at`` kept a datetime for
    the templates)."""
    from flywheel_ml.registry.records import evaluation_to_json

    return {**evaluation_to_json(evaluation), "at": evaluation.at}


def move_json(move: AliasMove) -> dict[str, Any]:
    """One alias move."""
    return {
        "seq": move.seq,
        "alias": move.alias,
        "from_version": move.from_version,
        "to_version": move.to_version,
        "actor": move.actor,
        "at": move.at,
        "reason": move.reason,
        "override": move.override,
    }


def model_data(ws: Workspace, name: str, *, history_limit: int | None = None) -> dict[str, Any]:
    """A model's versions (newest first, each with its newest evaluation), aliases and moves."""
    registry = ws.registry
    aliases = registry.aliases(name)
    evaluations: dict[int, list[Evaluation]] = {}
    for evaluation in registry.store.list_evaluations(name):
        evaluations.setdefault(evaluation.version, []).append(evaluation)
    versions = []
    for version in reversed(registry.list_versions(name, include_deleted=True)):
        doc = version_json(version, aliases)
        found = evaluations.get(version.version, [])
        doc["evaluations"] = len(found)
        doc["latest_evaluation"] = evaluation_json(found[-1]) if found else None
        versions.append(doc)
    history = [move_json(m) for m in reversed(registry.alias_history(name))]
    return {
        "name": name,
        "aliases": aliases,
        "versions": versions,
        "alias_history": history if history_limit is None else history[:history_limit],
        "alias_moves": len(history),
    }


def registry_data(ws: Workspace) -> dict[str, Any]:
    """Every model with its versions, aliases and its newest alias moves."""
    names = sorted({v.name for v in ws.registry.list_versions(include_deleted=True)})
    page = ws.plan.get()
    return {
        "objective": None if page.objective is None else str(page.objective),
        "constraints": [str(c) for c in page.constraints],
        "models": [model_data(ws, n, history_limit=5) for n in names],
    }


def registry_page(request: Request) -> Response:
    """Every model: versions, evaluations, aliases."""
    data = registry_data(pages.workspace(request))
    return pages.render(request, "registry/models.html", data, stage="registry")


def api_registry(request: Request) -> Response:
    """The registry.
    ---
    summary: Every model with its versions (newest evaluation each), aliases and recent moves
    responses:
      200: {description: "objective, constraints, models"}
    """
    return pages.json_response(registry_data(pages.workspace(request)))


def model_page(request: Request) -> Response:
    """One model with its whole alias history."""
    data = model_data(pages.workspace(request), request.path_params["name"])
    if not data["versions"]:
        from flywheel_ml.errors import NotFoundError

        raise NotFoundError(
            f"no model {data['name']!r}", hint="see the registered models at /ui/registry"
        )
    return pages.render(request, "registry/model.html", data, stage="registry")


def api_model(request: Request) -> Response:
    """One model.
    ---
    summary: A model's versions, aliases and whole alias history (newest first)
    parameters:
      - {name: name, in: path, required: true, schema: {type: string}}
    responses:
      200: {description: the model}
    """
    return pages.json_response(model_data(pages.workspace(request), request.path_params["name"]))


def version_data(ws: Workspace, ref: str) -> dict[str, Any]:
    """A version with every evaluation (newest first)."""
    registry = ws.registry
    version = registry.get_version(ref)
    aliases = registry.aliases(version.name)
    return {
        "version": version_json(version, aliases),
        "evaluations": [evaluation_json(e) for e in reversed(registry.evaluations(version.ref))],
    }


def version_page(request: Request) -> Response:
    """A model version and its evaluations."""
    data = version_data(pages.workspace(request), request.path_params["ref"])
    return pages.render(request, "registry/version.html", data, stage="registry")


def api_version(request: Request) -> Response:
    """One model version.
    ---
    summary: A model version with every evaluation (pass/fail per constraint and gate)
    parameters:
      - {name: ref, in: path, required: true, schema: {type: string}, example: "digits-clf@v1"}
    responses:
      200: {description: the version and its evaluations}
      404: {description: no such model, version or alias}
    """
    return pages.json_response(version_data(pages.workspace(request), request.path_params["ref"]))


def card_markdown(ws: Workspace, ref: str) -> str:
    """The model card of ``ref`` as Markdown (as ``flywheel docs model`` writes it)."""
    from flywheel_ml.reports.model_card import model_card_markdown

    return model_card_markdown(ws.registry.card_facts(ref), readiness=ws.readiness(ref))


def card_page(request: Request) -> Response:
    """The model card."""
    from flywheel_ml.reports.rendering import markdown_html

    ref = request.path_params["ref"]
    html = markdown_html(card_markdown(pages.workspace(request), ref))
    return pages.render(request, "registry/card.html", {"ref": ref, "html": html}, stage="registry")


def api_card(request: Request) -> Response:
    """A model card.
    ---
    summary: The model card of a version, as Markdown
    parameters:
      - {name: ref, in: path, required: true, schema: {type: string}}
    responses:
      200: {description: "ref, markdown"}
    """
    ref = request.path_params["ref"]
    return pages.json_response(
        {"ref": ref, "markdown": card_markdown(pages.workspace(request), ref)}
    )


def routes() -> list[BaseRoute]:
    """The registry stage's HTML and JSON routes."""
    return [
        Route("/ui/registry", registry_page, include_in_schema=False),
        Route("/ui/registry/models/{name}", model_page, include_in_schema=False),
        Route("/ui/registry/versions/{ref}", version_page, include_in_schema=False),
        Route("/ui/registry/cards/{ref}", card_page, include_in_schema=False),
        Route("/api/v1/registry", api_registry),
        Route("/api/v1/registry/models/{name}", api_model),
        Route("/api/v1/registry/versions/{ref}", api_version),
        Route("/api/v1/registry/cards/{ref}", api_card),
        *registry_readiness.routes(),
    ]
