"""The serve stage's verbs on a real workspace: refusals, aliases, history, events."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from flywheel_ml.errors import InvalidInputError, NotFoundError
from flywheel_ml.serve.predictors import EstimatorPredictor, Predictor


class AliasResolver:
    """Knows m@v1 and m@v2; ``m@champion`` names m@v2."""

    def __init__(self) -> None:
        from sklearn.linear_model import LogisticRegression

        X = np.array([[0.0, 1.0], [1.0, 0.0], [0.0, 2.0], [2.0, 0.0]])
        self.model = LogisticRegression().fit(X, [0, 1, 0, 1])
        self.loads: list[str] = []

    def resolve(self, ref: str) -> Predictor:
        self.loads.append(ref)
        concrete = {"m@champion": "m@v2"}.get(ref, ref)
        if concrete not in ("m@v1", "m@v2"):
            raise NotFoundError(f"no model version {ref}", hint="register it")
        return EstimatorPredictor(self.model, version_ref=concrete)


@pytest.fixture
def stage(workspace: Any) -> Any:
    """The serve stage of a fresh workspace (SQLite and PostgreSQL) with the alias resolver."""
    workspace.serve.resolver = AliasResolver()
    return workspace.serve


def test_an_alias_is_deployed_as_the_version_it_names(stage: Any, workspace: Any) -> None:
    stage.deploy("m@v1", reason="first")
    move = stage.deploy("m@champion")
    assert move.state.champion == "m@v2"
    assert move.state.earlier_champions == ("m@v1",)
    kinds = [e.kind for e in workspace.events.recent(stage="serve")]
    assert kinds == ["deployment.deploy", "deployment.deploy"]


def test_rules_are_checked_before_loading_and_nothing_is_written_on_refusal(stage: Any) -> None:
    stage.deploy("m@v1")
    loads = list(stage.resolver.loads)
    with pytest.raises(InvalidInputError):
        stage.canary("m@v9", percent=150)
    assert stage.resolver.loads == loads
    with pytest.raises(NotFoundError):
        stage.canary("m@v9", percent=10)
    assert len(stage.history("m")) == 1
    assert stage.get("m").canary is None


def test_status_without_a_log_reports_no_rows(stage: Any) -> None:
    stage.deploy("m@v1")
    stage.canary("m@v2", percent=25)
    status = stage.status("m")
    assert status.traffic == {"m@v1": 75.0, "m@v2": 25.0}
    assert [(d.role, d.rows, d.disagree_rate) for d in status.disagreements] == [
        ("canary", 0, None)
    ]
    (deployment, log) = stage.deliverables()
    assert deployment.done and "canary m@v2 at 25%" in deployment.evidence
    assert not log.done and log.next_step == "flywheel serve start"
