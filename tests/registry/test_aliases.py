"""Aliases: the gate, overrides with reasons, full history, deletion that keeps the audit."""

from __future__ import annotations

import numpy as np
import pytest

from flywheel_ml.errors import (
    ConflictError,
    ConstraintViolationError,
    InvalidInputError,
    NotFoundError,
)
from tests.registry.conftest import Project


def _failing_v1(project: Project) -> str:
    ws = project.ws
    ws.plan.set(add_constraints=["model_mb < 0.001"])
    version = ws.registry.register(project.good_run, name="digits-clf")
    assert not ws.registry.evaluate(version.ref).passed
    return version.ref


def test_champion_is_refused_when_a_constraint_failed(project: Project) -> None:
    ws = project.ws
    _failing_v1(project)
    with pytest.raises(ConstraintViolationError, match=r"model_mb < 0\.001") as caught:
        ws.registry.set_alias("digits-clf", "champion", "v1")
    assert "--override" in caught.value.hint
    with pytest.raises(InvalidInputError, match="reason"):
        ws.registry.set_alias("digits-clf", "champion", 1, override=True)
    assert ws.registry.aliases("digits-clf") == {}
    assert ws.registry.alias_history("digits-clf") == []


def test_an_override_with_a_reason_goes_through_and_is_recorded(project: Project) -> None:
    ws = project.ws
    _failing_v1(project)
    move = ws.registry.set_alias(
        "digits-clf", "champion", 1, override=True, reason="size limit is being revised"
    )
    assert move.override and move.reason == "size limit is being revised"
    assert ws.registry.aliases("digits-clf") == {"champion": 1}
    assert ws.registry.get_version("digits-clf@champion").version == 1
    events = [e for e in ws.events.recent(limit=20) if e.kind == "alias.moved"]
    assert events and events[0].detail["override"] is True


def test_champion_needs_an_evaluation_other_aliases_do_not(project: Project) -> None:
    ws = project.ws
    version = ws.registry.register(project.good_run, name="digits-clf")
    with pytest.raises(ConstraintViolationError, match="never evaluated"):
        ws.registry.set_alias("digits-clf", "champion", version.version)
    ws.registry.set_alias("digits-clf", "candidate", version.version, reason="try it")
    assert ws.registry.aliases("digits-clf") == {"candidate": 1}


def test_history_keeps_every_move(project: Project) -> None:
    ws = project.ws
    v1 = ws.registry.register(project.good_run, name="digits-clf")
    v2 = ws.registry.register(project.good_run, name="digits-clf")
    ws.registry.evaluate(v1.ref)
    ws.registry.evaluate(v2.ref)
    ws.registry.set_alias("digits-clf", "champion", 1, reason="first release")
    ws.registry.set_alias("digits-clf", "champion", 2, reason="retrained")
    with pytest.raises(ConflictError):
        ws.registry.set_alias("digits-clf", "champion", 2)
    ws.registry.set_alias("digits-clf", "candidate", 1)
    ws.registry.remove_alias("digits-clf", "candidate", reason="done")
    history = ws.registry.alias_history("digits-clf")
    assert [(m.alias, m.from_version, m.to_version, m.reason) for m in history] == [
        ("champion", None, 1, "first release"),
        ("champion", 1, 2, "retrained"),
        ("candidate", None, 1, ""),
        ("candidate", 1, None, "done"),
    ]
    assert all(m.actor == "tester" for m in history)
    assert [m.seq for m in history] == sorted(m.seq for m in history)


def test_delete_keeps_the_audit(project: Project) -> None:
    ws = project.ws
    v1 = ws.registry.register(project.good_run, name="digits-clf")
    ws.registry.evaluate(v1.ref)
    ws.registry.set_alias("digits-clf", "champion", 1)
    with pytest.raises(ConflictError, match="champion"):
        ws.registry.delete_version(v1.ref)
    ws.registry.remove_alias("digits-clf", "champion", reason="retiring")
    deleted = ws.registry.delete_version(v1.ref, reason="superseded")
    assert deleted.deleted
    with pytest.raises(NotFoundError, match="deleted"):
        ws.registry.load_model(v1.ref)
    with pytest.raises(ConstraintViolationError, match="deleted"):
        ws.registry.set_alias("digits-clf", "candidate", 1)
    assert ws.registry.list_versions() == []
    assert [v.ref for v in ws.registry.list_versions(include_deleted=True)] == [v1.ref]
    assert len(ws.registry.evaluations(v1.ref)) == 1
    assert len(ws.registry.alias_history("digits-clf")) == 2
    assert len(ws.data.audit()) == 1


def test_the_serve_resolver_loads_aliases_as_concrete_versions(project: Project) -> None:
    from flywheel_ml.serve.predictors import Predictor

    ws = project.ws
    v1 = ws.registry.register(project.good_run, name="digits-clf")
    ws.registry.evaluate(v1.ref)
    ws.registry.set_alias("digits-clf", "champion", 1)
    predictor = ws.model_resolver.resolve("digits-clf@champion")
    assert isinstance(predictor, Predictor)
    assert predictor.version_ref == "digits-clf@v1"
    assert list(predictor.feature_names) == [f"px{i}" for i in range(64)]
    assert predictor.predict(np.zeros((2, 64))).shape == (2,)
    with pytest.raises(NotFoundError):
        ws.model_resolver.resolve("digits-clf@v9")
    with pytest.raises(NotFoundError):
        ws.model_resolver.resolve("digits-clf@candidate")


def test_bad_references_are_clear_errors(project: Project) -> None:
    ws = project.ws
    with pytest.raises(NotFoundError, match="no model named"):
        ws.registry.get_version("nothing@v1")
    with pytest.raises(InvalidInputError, match="invalid model name"):
        ws.registry.get_version("Bad Name@v1")
    with pytest.raises(InvalidInputError, match="invalid alias"):
        ws.registry.set_alias("digits-clf", "v2", 1)
    with pytest.raises(InvalidInputError, match="version number"):
        ws.registry.set_alias("digits-clf", "champion", "two")


def test_the_release_flow_on_both_backends(workspace: object) -> None:
    from tests.registry.conftest import make_project

    project = make_project(workspace)
    ws = project.ws
    v1 = ws.registry.register(project.good_run, name="digits-clf")
    evaluation = ws.registry.evaluate(v1.ref)
    assert ws.registry.latest_evaluation(v1.ref) == evaluation
    ws.registry.set_alias("digits-clf", "champion", 1, reason="release")
    assert ws.registry.get_version("digits-clf@champion") == v1
    assert [m.to_version for m in ws.registry.alias_history("digits-clf")] == [1]
    assert len(ws.data.audit()) == 1
    status = {s.stage: s for s in ws.status()}
    assert status["registry"].done
