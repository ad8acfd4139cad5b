"""The ML Test Score follows the recorded facts: each fact flips its own test."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.registry.conftest import Project


def _states(ws: Any, ref: str) -> dict[str, str]:
    report = ws.readiness(ref)
    assert len(report.items) == 28
    assert {s: sum(1 for i in report.items if i.section == s) for s in report.section_scores} == {
        "data": 7, "model": 7, "infrastructure": 7, "monitoring": 7,
    }  # fmt: skip
    return {i.title: i.state for i in report.items}


def test_tests_pass_as_the_facts_are_recorded(project: Project) -> None:
    ws = project.ws
    ws.registry.register(project.weak_run, name="digits-clf")
    version = ws.registry.register(project.good_run, name="digits-clf")
    before = _states(ws, version.ref)
    assert before["Model quality is validated before serving"] == "not measurable yet"
    assert before["Serving models can be rolled back"] == "not measurable yet"
    assert before["Models are canaried before serving"] == "not measurable yet"
    assert before["Feature expectations are captured in a schema"] == "not measurable yet"
    assert before["No feature's cost is too much"] == "outside Flywheel"

    ws.data.check("digits@latest")
    assert ws.registry.evaluate(version.ref).passed
    ws.registry.set_alias("digits-clf", "champion", version.version)
    ws.serve.deploy("digits-clf@v1")
    ws.serve.canary(version.ref, percent=10)
    ws.serve.rollback("digits-clf")
    after = _states(ws, version.ref)
    assert after["Feature expectations are captured in a schema"] == "passed"
    assert after["Model quality is validated before serving"] == "passed"
    assert after["Models are canaried before serving"] == "passed"
    assert after["Serving models can be rolled back"] == "passed"
    assert after["Models are not too stale"] == "passed"
    report = ws.readiness(version.ref)
    assert report.score == min(report.section_scores.values())
    rollback = next(i for i in report.items if i.title == "Serving models can be rolled back")
    assert rollback.points == 1.0 and "rolled back 1 time(s)" in rollback.evidence


def test_a_failed_constraint_fails_validation(project: Project) -> None:
    ws = project.ws
    ws.plan.set(add_constraints=["model_mb < 0.000001"])
    version = ws.registry.register(project.good_run, name="digits-clf")
    ws.registry.evaluate(version.ref)
    item = next(
        i for i in ws.readiness(version.ref).items if i.title.startswith("Model quality is valid")
    )
    assert item.state == "failed" and "model_mb" in item.evidence and item.points == 0


def test_reproducible_training_needs_a_twin_run_that_agrees(project: Project) -> None:
    from sklearn.linear_model import LogisticRegression

    ws = project.ws
    train = ws.data.load("digits@latest", split="train")
    features = [f"px{i}" for i in range(64)]
    ids = []
    for _ in range(2):
        with ws.track.start_run(
            name="seeded", params={"C": 0.5}, seed=7, datasets=["digits"]
        ) as run:
            model = LogisticRegression(C=0.5, max_iter=300)
            model.fit(train[features].to_numpy(), train["label"].to_numpy())
            run.log_metric("train_accuracy", float(model.score(train[features], train["label"])))
            run.log_model(model)
            ids.append(str(run.id))
    version = ws.registry.register(ids[0], name="seeded")
    item = next(i for i in ws.readiness(version.ref).items if i.title == "Training is reproducible")
    assert item.state == "passed", item
    assert ids[1][-8:] in item.evidence


def test_cli_readiness_json(project: Project, cli: Any) -> None:
    ws = project.ws
    ws.registry.register(project.good_run, name="digits-clf")
    done = cli("--json", "readiness", "digits-clf@v1", cwd=ws.root)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["model"] == "digits-clf@v1" and len(data["items"]) == 28
    assert data["score"] == min(data["sections"].values())
    missing = cli("readiness", "nope@v1", cwd=ws.root)
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1


def test_status_shows_the_champions_score(project: Project, cli: Any) -> None:
    ws = project.ws
    plain = cli("status", cwd=ws.root)
    assert plain.returncode == 0, plain.stderr
    assert "Readiness (ML Test Score): no champion yet" in plain.stdout
    version = ws.registry.register(project.good_run, name="digits-clf")
    assert ws.registry.evaluate(version.ref).passed
    ws.registry.set_alias("digits-clf", "champion", version.version)
    report = ws.readiness(version.ref)
    done = cli("status", cwd=ws.root)  # the champion is a write: the cached status is stale
    assert done.returncode == 0, done.stderr
    line = " ".join(done.stdout.split())
    assert (
        f"Readiness (ML Test Score) of digits-clf@v1: {report.score:g} of 7; "
        f"{report.measurable} of 28 tests measurable, {report.passed} passed"
    ) in line
    assert "flywheel readiness digits-clf@v1" in line
    data = json.loads(cli("--json", "status", cwd=ws.root).stdout)
    assert data["readiness"] == report.summary()
    assert 0 < report.measurable < 28


def test_the_model_card_carries_the_readiness_table(project: Project, cli: Any) -> None:
    ws = project.ws
    version = ws.registry.register(project.good_run, name="digits-clf")
    ws.registry.evaluate(version.ref)
    done = cli("--json", "registry", "card", version.ref, cwd=ws.root)
    assert done.returncode == 0, done.stderr
    card = (ws.root / "docs" / "model-digits-clf-v1.md").read_text()
    section = card.split("## Production readiness (ML Test Score)", 1)[1].split("\n## ", 1)[0]
    report = ws.readiness(version.ref)
    assert f"**Score {report.score:g} of 7**" in section
    assert f"{report.measurable} of 28 tests measurable" in section
    rows = [line for line in section.splitlines() if line.startswith("| ") and ": " in line]
    assert len(rows) == 28
    validated = next(r for r in rows if "Model quality is validated before serving" in r)
    assert "| passed | 1 |" in validated and "passed every constraint" in validated
    rollback = next(r for r in rows if "Serving models can be rolled back" in r)
    assert "not measurable yet" in rollback and "`flywheel serve rollback digits-clf`" in rollback
    html = (ws.root / "docs" / "model-digits-clf-v1.html").read_text()
    assert "Production readiness (ML Test Score)" in html


def test_a_model_trained_by_ci_counts_as_integration_tested(project: Project) -> None:
    from sklearn.dummy import DummyClassifier

    ws = project.ws
    title = "The ML pipeline is integration tested"
    by_hand = ws.registry.register(project.good_run, name="digits-clf")
    item = next(i for i in ws.readiness(by_hand.ref).items if i.title == title)
    assert item.state == "not measurable yet" and "flywheel ci install" in item.next_step
    # The tags `flywheel ci run` puts on its runs (tested end to end in tests/scaffold).
    tags = {"ci.branch": "train/rf", "ci.commit": "0123456789abcdef"}
    with ws.track.start_run(name="ci", params={}, tags=tags) as run:
        run.log_model(DummyClassifier().fit([[0], [1]], [0, 1]))
    by_ci = ws.registry.register(str(run.id), name="ci-clf")
    item = next(i for i in ws.readiness(by_ci.ref).items if i.title == title)
    assert item.state == "passed" and "train/rf at 0123456789" in item.evidence


def test_served_rows_are_read_from_the_log_batch_by_batch(tmp_path: Path) -> None:
    """What the monitoring tests read: the version's rows only, the widths of their inputs, and
    the rows whose probabilities are not finite (regressors log none)."""
    import time

    import numpy as np

    from flywheel_ml.reports.readiness_facts import served_rows
    from flywheel_ml.serve.predlog import LogEntry, PredictionLog

    def entry(version: str, inputs: Any, probabilities: Any) -> LogEntry:
        rows = len(inputs)
        return LogEntry(
            at=time.time(), request_id=f"r{time.monotonic_ns()}", model="m", version=version,
            key=None, latency_ms=1.0, inputs=np.asarray(inputs, dtype=np.float64),
            predictions=np.zeros(rows), probabilities=probabilities,
        )  # fmt: skip

    log = PredictionLog(tmp_path, flush_interval_s=0.01)
    log.append(entry("m@v1", [[0.0, 1.0, 2.0]] * 3, np.full((3, 2), 0.5)))
    log.append(entry("m@v1", [[0.0, 1.0, 2.0, 3.0]], np.array([[np.nan, 1.0]])))
    log.append(entry("m@v1", [[1.0, 1.0, 1.0]] * 2, None))
    log.append(entry("m@v2", [[0.0]] * 5, np.array([[np.inf, 0.0]] * 5)))
    log.close()
    found = served_rows(tmp_path, model="m", version="m@v1")
    assert (found.rows, found.widths, found.non_finite) == (6, frozenset({3, 4}), 1)
    assert served_rows(tmp_path, model="m", version="m@v2").non_finite == 5
    assert served_rows(tmp_path, model="other", version="m@v1").rows == 0
