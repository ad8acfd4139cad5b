"""JSON forms of registry records: the stored form of evaluations and the ``--json`` output."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flywheel_ml.registry.entities import (
    AliasMove,
    ConstraintResult,
    Evaluation,
    GateResult,
    ModelVersion,
)


def version_to_json(version: ModelVersion) -> dict[str, Any]:
    """A version as a JSON-ready dict."""
    return {
        "ref": version.ref,
        "name": version.name,
        "version": version.version,
        "run_id": version.run_id,
        "dataset": version.dataset,
        "git_commit": version.git_commit,
        "artifact_digest": version.artifact_digest,
        "artifact_format": version.artifact_format,
        "artifact_size": version.artifact_size,
        "estimator": version.estimator,
        "feature_names": list(version.feature_names),
        "trusted": list(version.trusted),
        "description": version.description,
        "created_by": version.created_by,
        "created_at": version.created_at.isoformat(),
        "deleted": version.deleted,
        "kernel_digest": version.kernel_digest,
    }


def move_to_json(move: AliasMove) -> dict[str, Any]:
    """An alias move as a JSON-ready dict."""
    return {
        "seq": move.seq,
        "name": move.name,
        "alias": move.alias,
        "from_version": move.from_version,
        "to_version": move.to_version,
        "actor": move.actor,
        "at": move.at.isoformat(),
        "reason": move.reason,
        "override": move.override,
    }


def evaluation_to_json(evaluation: Evaluation) -> dict[str, Any]:
    """An evaluation as a JSON-ready dict (also its stored form)."""
    return {
        "id": evaluation.id,
        "ref": evaluation.ref,
        "name": evaluation.name,
        "version": evaluation.version,
        "dataset": evaluation.dataset,
        "purpose": evaluation.purpose,
        "rows": evaluation.rows,
        "passed": evaluation.passed,
        "failed": list(evaluation.failed),
        "objective": evaluation.objective,
        "objective_value": evaluation.objective_value,
        "confidence": evaluation.confidence,
        "metrics": dict(evaluation.metrics),
        "slices": {k: dict(v) for k, v in evaluation.slices.items()},
        "test_sets": {k: dict(v) for k, v in evaluation.test_sets.items()},
        "constraints": [
            {
                "constraint": c.constraint,
                "metric": c.metric,
                "measured": c.measured,
                "passed": c.passed,
            }
            for c in evaluation.constraints
        ],
        "gates": [
            {
                "gate": g.gate,
                "name": g.name,
                "passed": g.passed,
                "detail": g.detail,
                "score": g.score,
                "threshold": g.threshold,
            }
            for g in evaluation.gates
        ],
        "actor": evaluation.actor,
        "at": evaluation.at.isoformat(),
        "extra": dict(evaluation.extra),
    }


def evaluation_from_json(doc: dict[str, Any], *, at: datetime) -> Evaluation:
    """Rebuild an evaluation from its stored form (``at`` from the row, timezone-aware)."""
    return Evaluation(
        id=doc["id"],
        name=doc["name"],
        version=int(doc["version"]),
        dataset=doc["dataset"],
        purpose=doc["purpose"],
        rows=int(doc["rows"]),
        metrics={k: float(v) for k, v in doc["metrics"].items()},
        slices={k: {m: float(x) for m, x in v.items()} for k, v in doc["slices"].items()},
        test_sets={k: {m: float(x) for m, x in v.items()} for k, v in doc["test_sets"].items()},
        constraints=tuple(
            ConstraintResult(c["constraint"], c["metric"], c["measured"], bool(c["passed"]))
            for c in doc["constraints"]
        ),
        gates=tuple(
            GateResult(
                g["gate"],
                g["name"],
                bool(g["passed"]),
                g["detail"],
                g.get("score"),
                g.get("threshold"),
            )
            for g in doc["gates"]
        ),
        objective=doc["objective"],
        objective_value=doc["objective_value"],
        confidence=float(doc["confidence"]),
        actor=doc["actor"],
        at=at,
        extra=doc.get("extra") or {},
    )
