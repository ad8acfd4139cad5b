"""One turn of the flywheel, composed of the stages' own verbs.

queue (the production items annotators labelled since the last turn) -> labels applied
(label apply: a new dataset version holding the corrected production items) -> retrain (the
champion's estimator with its hyper-parameters, in a tracked run on the new version) -> gated
evaluation on the sealed test set (registry evaluate; the no-regression gate against the
champion) -> canary (serve canary) -> next queue (monitor feedback -> label enqueue: new
doubtful production items for the next turn). While queued items are still unlabelled the turn
waits (``label apply`` adds every queued item as a row, so it runs only on a fully labelled
queue) and only refills the queue.

Each step is recorded as it finishes, so a turn that stops (nothing labelled yet, the gate
refused) still shows how far it got and why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from flywheel_ml.core.clock import utc_now
from flywheel_ml.core.ids import new_id
from flywheel_ml.data.stage import DataStage
from flywheel_ml.errors import FlywheelError
from flywheel_ml.label.stage import LabelStage
from flywheel_ml.monitor.entities import Turn, TurnStep
from flywheel_ml.registry.entities import ModelVersion
from flywheel_ml.registry.stage import RegistryStage
from flywheel_ml.serve.stage import ServeStage
from flywheel_ml.track.stage import TrackStage

Say = Callable[[str], None]


class TurnRecorder:
    """Keeps the turn's record up to date in the store after every step."""

    def __init__(self, model: str, save: Callable[[Turn], None], say: Say | None) -> None:
        self.turn = Turn(id=new_id(), model=model, started_at=utc_now(), finished_at=None,
                         status="running")  # fmt: skip
        self._save = save
        self._say = say
        save(self.turn)

    def step(self, name: str, status: str, text: str, **detail: Any) -> None:
        """Record a finished step and print ``text``."""
        entry = TurnStep(name, status, detail, utc_now())
        self.turn = replace(self.turn, steps=(*self.turn.steps, entry))
        self._save(self.turn)
        if self._say is not None:
            self._say(f"  {name}: {text}")

    def finish(self, status: str, **changes: Any) -> Turn:
        """Close the turn with ``status``."""
        self.turn = replace(self.turn, status=status, finished_at=utc_now(), **changes)
        self._save(self.turn)
        return self.turn

    def update(self, **changes: Any) -> None:
        """Change fields of the record (objective values, new versions)."""
        self.turn = replace(self.turn, **changes)
        self._save(self.turn)


def retrain(
    champion: ModelVersion,
    *,
    dataset_ref: str,
    data: DataStage,
    track: TrackStage,
    registry: RegistryStage,
    turn_id: str,
) -> ModelVersion:
    """Fit the champion's estimator (same class and hyper-parameters, via ``sklearn.clone``) on
    the train split of ``dataset_ref`` in a tracked run, and register the result."""
    from sklearn.base import clone

    estimator = clone(registry.load_model(champion.ref))
    features = list(champion.feature_names)
    frame = data.load(dataset_ref, split="train")
    label = data.get_version(dataset_ref).facts.get("label")
    frame = frame[frame[label].notna()]
    # A frame (not an array), so the model records its input columns: the new version has
    # columns (label_source, label_confidence) that are not features.
    X = frame[features].astype(np.float64)
    y = frame[label].to_numpy()
    params = dict(track.get_run(champion.run_id).params) if champion.run_id else {}
    params.update({"retrained_from": champion.ref, "flywheel_turn": turn_id})
    with track.start_run(name=f"turn {turn_id[-8:]} of {champion.name}", params=params,
                         datasets=[dataset_ref]) as run:  # fmt: skip
        estimator.fit(X, y)
        run.log_metric("train_rows", float(len(frame)))
        run.log_model(estimator)
        run_id = str(run.id)
    about = f"flywheel turn {turn_id} from {champion.ref}"
    return registry.register(run_id, name=champion.name, trusted=champion.trusted,
                             description=about)  # fmt: skip


def run_turn(
    *,
    model: str,
    queue: str,
    recorder: TurnRecorder,
    enqueue: Callable[[], int],
    label: LabelStage,
    data: DataStage,
    track: TrackStage,
    registry: RegistryStage,
    serve: ServeStage,
    canary_percent: float,
    min_labels: int,
    tolerance: float = 0.0,
) -> Turn:
    """Run one turn (see the module docstring); returns the finished record."""
    champion = registry.get_version(f"{model}@champion")
    before = registry.latest_evaluation(champion.ref)
    objective = before.objective if before is not None else ""
    recorder.update(objective=objective, before=None if before is None else before.objective_value)
    dataset = champion.dataset.split("@", 1)[0]
    latest = data.get_version(f"{dataset}@latest")
    have = set(data.item_index(latest))
    tasks = label.tasks(queue) if any(q.name == queue for q in label.queues()) else []
    fresh = [t for t in tasks if t.item not in have]
    done = [t for t in fresh if t.status == "done"]
    open_ = [t for t in fresh if t.status != "done"]
    recorder.step("queue", "ok", f"{queue}: {len(done)} production item(s) labelled, "
                  f"{len(open_)} not yet", labelled=len(done), open=len(open_))  # fmt: skip
    if open_ or len(done) < min_labels:
        # label apply adds every queued item as a row: wait until the queue is fully labelled
        why = (f"{len(open_)} item(s) of {queue} still to label" if open_
               else f"{len(done)} labelled, {min_labels} needed")  # fmt: skip
        recorder.step("labels", "waiting", why, labelled=len(done), open=len(open_))
        added = enqueue()
        recorder.step("next queue", "ok", f"{added} new production item(s) queued",
                      added=added)  # fmt: skip
        return recorder.finish("waiting")
    dataset = champion.dataset.split("@", 1)[0]
    new_data = label.apply(dataset, message=f"flywheel turn {recorder.turn.id}: "
                           f"{len(done)} production item(s) labelled")  # fmt: skip
    recorder.update(dataset_version=new_data.ref)
    recorder.step("labels applied", "ok", f"new dataset version {new_data.ref} "
                  f"({new_data.items} items)", dataset_version=new_data.ref,
                  items=new_data.items)  # fmt: skip
    new_version = retrain(champion, dataset_ref=new_data.ref, data=data, track=track,
                          registry=registry, turn_id=recorder.turn.id)  # fmt: skip
    recorder.update(model_version=new_version.ref)
    recorder.step("retrain", "ok", f"{new_version.ref} from {champion.ref}'s estimator on "
                  f"{new_data.ref} (run {new_version.run_id[-8:]})", model_version=new_version.ref,
                  run=new_version.run_id)  # fmt: skip
    evaluation = registry.evaluate(
        new_version.ref, reason=f"flywheel turn {recorder.turn.id}", tolerance=tolerance
    )
    after = evaluation.objective_value
    recorder.update(after=after)
    verdict = "passed" if evaluation.passed else "refused: " + ", ".join(evaluation.failed)
    recorder.step("evaluate", "ok" if evaluation.passed else "refused",
                  f"{evaluation.objective} {_fmt(after)} (champion {_fmt(recorder.turn.before)}) "
                  f"on {evaluation.rows} sealed rows; {verdict}",
                  passed=evaluation.passed, failed=list(evaluation.failed))  # fmt: skip
    if not evaluation.passed:
        return recorder.finish("refused")
    try:
        serve.canary(new_version.ref, percent=canary_percent,
                     reason=f"flywheel turn {recorder.turn.id}")  # fmt: skip
    except FlywheelError as exc:
        recorder.step("canary", "failed", str(exc))
        return recorder.finish("failed")
    recorder.step("canary", "ok", f"{new_version.ref} on {canary_percent:g}% of traffic",
                  percent=canary_percent)  # fmt: skip
    added = enqueue()
    recorder.step("next queue", "ok", f"{added} new production item(s) queued for the next turn",
                  added=added)  # fmt: skip
    return recorder.finish("canary")


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"
