"""Gated evaluation: audited sealed-test reads, measured constraints, slices, test sets, gates."""

from __future__ import annotations

import numpy as np
import pytest

from flywheel_ml.errors import InvalidInputError
from tests.registry.conftest import Project, digits_frame

FEATURES = [f"px{i}" for i in range(64)]


def test_each_evaluation_reads_the_test_labels_through_the_audit(project: Project) -> None:
    ws = project.ws
    version = ws.registry.register(project.good_run, name="digits-clf")
    before = len(ws.data.audit(dataset="digits"))
    first = ws.registry.evaluate(version.ref, reason="release check")
    ws.registry.evaluate(version.ref, reason="second look")
    reads = ws.data.audit(dataset="digits")
    assert len(reads) == before + 2
    assert reads[-2].purpose == "evaluate digits-clf@v1: release check" == first.purpose
    assert reads[-1].purpose == "evaluate digits-clf@v1: second look"
    assert reads[-1].actor == "tester" and reads[-1].rows == first.rows > 0
    assert ws.registry.evaluations(version.ref)[0].id == first.id


def test_the_objective_and_every_constraint_metric_are_measured(project: Project) -> None:
    ws = project.ws
    version = ws.registry.register(project.good_run, name="digits-clf")
    evaluation = ws.registry.evaluate(version.ref)
    metrics = evaluation.metrics
    for name in ("accuracy", "f1_macro", "latency_p50_ms", "latency_p95_ms", "model_mb",
                 "coverage", "throughput_rps", "log_loss", "roc_auc"):  # fmt: skip
        assert name in metrics, name
    assert metrics["latency_p50_ms"] <= metrics["latency_p95_ms"]
    assert metrics["model_mb"] == pytest.approx(version.artifact_size / 1e6)

    # The accuracy is the one scikit-learn computes on the test split.
    test = ws.data.load("digits@v1", split="test", purpose="test oracle")
    model = ws.registry.load_model(version.ref)
    expected = float((model.predict(test[FEATURES].to_numpy()) == test["label"]).mean())
    assert metrics["accuracy"] == pytest.approx(expected)
    assert evaluation.objective == "accuracy" and evaluation.objective_value == metrics["accuracy"]
    assert [c.constraint for c in evaluation.constraints] == [
        "latency_p95_ms < 1000", "model_mb < 50", "coverage >= 0.5",
    ]  # fmt: skip
    assert evaluation.passed and all(c.passed for c in evaluation.constraints)
    assert ws.registry.latest_evaluation(version.ref) == evaluation


def test_a_failed_constraint_fails_the_evaluation(project: Project) -> None:
    ws = project.ws
    ws.plan.set(add_constraints=["model_mb < 0.001"])
    version = ws.registry.register(project.good_run, name="digits-clf")
    evaluation = ws.registry.evaluate(version.ref)
    assert not evaluation.passed
    assert evaluation.failed == ("model_mb < 0.001",)


def test_slices_and_extra_test_sets_are_measured(project: Project) -> None:
    ws = project.ws
    ws.data.add_slice("digits", "ink-heavy", where="px36 > 8")
    hard = digits_frame().iloc[1500:1560].copy()
    ws.data.add(hard, name="digits-late", label="label", id="item", as_test_set=True)
    version = ws.registry.register(project.good_run, name="digits-clf")
    before = len(ws.data.audit())
    evaluation = ws.registry.evaluate(version.ref)
    test = ws.data.load("digits@v1", split="test", purpose="test oracle")
    assert evaluation.slices["ink-heavy"]["rows"] == float((test["px36"] > 8).sum())
    assert "accuracy" in evaluation.slices["ink-heavy"]
    assert evaluation.test_sets["digits-late@v1"]["rows"] == 60.0
    assert 0.0 <= evaluation.test_sets["digits-late@v1"]["accuracy"] <= 1.0
    # One audited read for the test split and one for the extra test set.
    assert len(ws.data.audit()) == before + 3  # + the oracle read above


def test_no_regression_against_the_champion(project: Project) -> None:
    ws = project.ws
    ws.data.add_slice("digits", "ink-heavy", where="px36 > 8")
    good = ws.registry.register(project.good_run, name="digits-clf")
    assert ws.registry.evaluate(good.ref).passed
    ws.registry.set_alias("digits-clf", "champion", good.version)
    weak = ws.registry.register(project.weak_run, name="digits-clf")
    strict = ws.registry.evaluate(weak.ref)
    gates = {g.name: g for g in strict.gates if g.gate == "no_regression"}
    assert not gates["all"].passed and "champion digits-clf@v1" in gates["all"].detail
    assert "ink-heavy" in gates
    drop = strict.metrics["accuracy"]
    assert drop < ws.registry.latest_evaluation(good.ref).metrics["accuracy"]  # type: ignore[union-attr]
    lenient = ws.registry.evaluate(weak.ref, tolerance=1.0)
    assert all(g.passed for g in lenient.gates if g.gate == "no_regression")


def test_behavioural_cases_are_reported_one_by_one(project: Project) -> None:
    import pandas as pd

    ws = project.ws
    blank = pd.DataFrame(np.zeros((5, 64)), columns=FEATURES)
    zeros = digits_frame().query("label == 0").head(20)[FEATURES]
    ws.registry.add_case("digits-clf", "blank-rejected", blank, expect="reject", min_score=0.8,
                         description="all-black scans must be rejected")  # fmt: skip
    ws.registry.add_case("digits-clf", "zeros-are-zero", zeros, expect="0", min_score=0.9)
    version = ws.registry.register(project.good_run, name="digits-clf")
    evaluation = ws.registry.evaluate(version.ref, confidence=0.5)
    cases = {g.name: g for g in evaluation.gates if g.gate == "behaviour"}
    assert set(cases) == {"blank-rejected", "zeros-are-zero"}

    model = ws.registry.load_model(version.ref)
    rejected = float((model.predict_proba(blank.to_numpy()).max(axis=1) < 0.5).mean())
    assert cases["blank-rejected"].score == pytest.approx(rejected)
    assert cases["blank-rejected"].passed == (rejected >= 0.8)
    right = float((model.predict(zeros.to_numpy()) == 0).mean())
    assert cases["zeros-are-zero"].score == pytest.approx(right)
    assert cases["zeros-are-zero"].passed == (right >= 0.9)
    assert evaluation.passed == all(g.passed for g in evaluation.gates)


def test_bad_evaluation_options_change_nothing(project: Project) -> None:
    ws = project.ws
    version = ws.registry.register(project.good_run, name="digits-clf")
    before = len(ws.data.audit())
    with pytest.raises(InvalidInputError, match="confidence"):
        ws.registry.evaluate(version.ref, confidence=1.5)
    with pytest.raises(InvalidInputError, match="reason"):
        ws.registry.evaluate(version.ref, reason="  ")
    assert len(ws.data.audit()) == before
    assert ws.registry.evaluations(version.ref) == []


def test_evaluation_never_reads_test_labels_without_a_purpose(project: Project) -> None:
    from typing import Any

    from flywheel_ml.registry import RegistryStage

    ws = project.ws
    ws.data.add(digits_frame().iloc[1500:1520], name="digits-late", label="label", id="item",
                as_test_set=True)  # fmt: skip
    calls: list[dict[str, Any]] = []

    class Spy:
        def __getattr__(self, name: str) -> Any:
            return getattr(ws.data, name)

        def load(self, ref: str, **options: Any) -> Any:
            calls.append({"ref": ref, **options})
            return ws.data.load(ref, **options)

    stage = RegistryStage(
        ws.registry.store, objects=ws.objects, runs=ws.track, data=Spy(), page=ws.plan.get
    )
    version = stage.register(project.good_run, name="digits-clf")
    stage.evaluate(version.ref, reason="spy")
    assert {c["ref"] for c in calls} == {"digits@v1", "digits-late@v1"}
    assert all(c.get("purpose") == "evaluate digits-clf@v1: spy" for c in calls)
