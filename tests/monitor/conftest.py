"""A deployed digits model with simulated production traffic written to its prediction log."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from tests.registry.conftest import make_project

from flywheel_ml.core.ids import new_id
from flywheel_ml.serve.predlog import LogEntry, PredictionLog

MODEL = "digits-clf"
SHIFTED = ("px20", "px21", "px28")


@dataclass(frozen=True, slots=True)
class Deployed:
    """A workspace whose champion ``digits-clf@v1`` is deployed."""

    ws: Any
    features: tuple[str, ...]
    rows: np.ndarray
    labels: np.ndarray


def deploy_champion(ws: Any, run_id: str) -> None:
    version = ws.registry.register(run_id, name=MODEL)
    ws.registry.evaluate(version.ref, reason="monitor test")
    ws.registry.set_alias(MODEL, "champion", version.version, override=True, reason="test")
    ws.serve.deploy(f"{MODEL}@v{version.version}", reason="monitor test")


def log_traffic(
    deployed: Deployed,
    *,
    n: int,
    shift: float = 0.0,
    seed: int = 0,
    at: float | None = None,
    truth: dict[str, Any] | None = None,
) -> list[str]:
    """Predict ``n`` sampled rows (``SHIFTED`` pixels moved by ``shift``) and log them, one
    request per row; returns the request ids. Simulated production traffic."""
    ws = deployed.ws
    model = ws.registry.load_model(f"{MODEL}@champion")
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(deployed.rows), size=n)
    X = deployed.rows[pick].copy()
    idx = [deployed.features.index(f) for f in SHIFTED]
    X[:, idx] = np.clip(X[:, idx] + shift, 0, 16)
    predictions = model.predict(X)
    probabilities = model.predict_proba(X)
    champion = ws.serve.get(MODEL).champion
    log = PredictionLog(ws.serve.log_dir, max_part_age_s=3600)
    ids = []
    now = time.time() if at is None else at
    for i in range(n):
        rid = new_id()
        ids.append(rid)
        if truth is not None:
            truth[rid] = deployed.labels[pick[i]]
        log.append(
            LogEntry(
                at=now,
                request_id=rid,
                model=MODEL,
                version=champion,
                key=None,
                latency_ms=1.0,
                inputs=X[i : i + 1],
                predictions=predictions[i : i + 1],
                probabilities=probabilities[i : i + 1],
            )
        )
    log.close()
    return ids


@pytest.fixture
def deployed(sqlite_workspace: Any) -> Deployed:
    """The digits project with its good model as deployed champion."""
    project = make_project(sqlite_workspace)
    deploy_champion(sqlite_workspace, project.good_run)
    frame = sqlite_workspace.data.load("digits@latest", split="train")
    features = tuple(f"px{i}" for i in range(64))
    return Deployed(sqlite_workspace, features, frame[list(features)].to_numpy(float),
                    frame["label"].to_numpy())  # fmt: skip
