"""Feedback into the label queue and one full turn of the flywheel."""

from __future__ import annotations

from typing import Any

from tests.monitor.conftest import MODEL, Deployed, log_traffic

from flywheel_ml.monitor.feedback import FeedbackOptions


def test_feedback_queues_doubtful_rows_with_prelabel_and_provenance(deployed: Deployed) -> None:
    ws = deployed.ws
    log_traffic(deployed, n=300, shift=6.0, seed=21)
    options = FeedbackOptions(low_confidence=0.9, sample=15, seed=1)
    queue, chosen, added = ws.monitor.feedback(MODEL, options=options)
    assert chosen and added == len(chosen)
    reasons = {r.split(":")[0] for s in chosen for r in s.reasons}
    assert {"low-confidence", "calibration", "drifted"} <= reasons
    assert len({s.item_id for s in chosen}) == len(chosen)  # deduplicated
    tasks = ws.label.tasks(queue)
    assert {t.item for t in tasks} == {s.item_id for s in chosen}
    first = tasks[0]
    assert first.provenance.startswith(f"from production, request id {first.item}")
    assert first.prelabel is not None and first.data is not None and "px20" in first.data
    again = ws.monitor.feedback(MODEL, options=options)
    assert again[2] == 0  # nothing new: the same rows are already queued


def test_a_turn_waits_for_labels_then_ends_with_a_canary_on_the_new_data(
    deployed: Deployed,
) -> None:
    ws = deployed.ws
    truth: dict[str, Any] = {}
    log_traffic(deployed, n=300, shift=6.0, seed=22, truth=truth)
    options = FeedbackOptions(low_confidence=0.9, sample=10, seed=2)
    waiting = ws.monitor.turn(MODEL, options=options)
    steps = [s.step for s in waiting.steps]
    assert waiting.status == "waiting" and steps == ["queue", "labels", "next queue"]
    queue = f"{MODEL}-production"
    for task in ws.label.tasks(queue):  # simulated annotators: the true digit of each row
        ws.label.submit(queue, task.item, "simulated-annotator", int(truth[task.item]))
    labelled = {t.item for t in ws.label.tasks(queue) if t.status == "done"}

    turn = ws.monitor.turn(MODEL, options=options, tolerance=0.1)

    assert turn.status == "canary", turn.steps
    assert [s.step for s in turn.steps] == [
        "queue",
        "labels applied",
        "retrain",
        "evaluate",
        "canary",
        "next queue",
    ]
    assert turn.objective == "accuracy" and turn.before is not None and turn.after is not None
    deployment = ws.serve.get(MODEL)
    assert deployment.canary == turn.model_version
    new_model = ws.registry.get_version(str(turn.model_version))
    assert new_model.dataset == turn.dataset_version
    new_data = ws.data.load(str(turn.dataset_version), with_split=True)
    rows = new_data[new_data["item"].astype(str).isin(labelled)]
    assert set(rows["item"].astype(str)) == labelled  # the corrected production items
    visible = rows[rows["__split__"] != "test"]
    assert visible["label_source"].str.startswith("annotators").all()
    assert [t.id for t in ws.monitor.turns(model=MODEL)] == [turn.id, waiting.id]
