"""The label stage's verbs: the label document, annotations, agreement, aggregation, queues,
suspected label errors.

>>> ws.label.set_guide(open("guide.yaml").read())                       # doctest: +SKIP
>>> ws.label.import_annotations("labels.jsonl", dataset="digits", annotator="ann1")  # +SKIP
>>> ws.label.agreement("digits").alpha_nominal                          # doctest: +SKIP

Sealed test labels: the stage reads dataset labels only through ``DataStage.load`` without a
purpose (test labels come back missing), except :meth:`LabelStage.apply`, which must carry the
test labels into the new version and reads them through the audited path (a ``data audit``
record names the read).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from flywheel_ml.core.clock import utc_now
from flywheel_ml.core.identity import current_actor
from flywheel_ml.core.ids import new_id
from flywheel_ml.core.lifecycle import Deliverable
from flywheel_ml.errors import InvalidInputError
from flywheel_ml.label.annotating import (
    ANYONE,
    LABEL_CONFIDENCE_COLUMN,
    LABEL_SOURCE_COLUMN,
    ModelLoader,
    ProbaModel,
    natural_key,
)
from flywheel_ml.label.annotations import class_key
from flywheel_ml.label.apply import Relabelling
from flywheel_ml.label.consensus import Aggregation, agreement_json
from flywheel_ml.label.entities import LabelRecord, QueueItem
from flywheel_ml.label.suspects import Ranking, find_suspects, out_of_fold_probabilities
from flywheel_ml.label.tasks import Tasks, TaskView

__all__ = [
    "ANYONE",
    "LABEL_CONFIDENCE_COLUMN",
    "LABEL_SOURCE_COLUMN",
    "Aggregation",
    "LabelStage",
    "ModelLoader",
    "ProbaModel",
    "SuspectReport",
    "TaskView",
    "agreement_json",
]


@dataclass(frozen=True, slots=True)
class SuspectReport:
    """Likely wrong labels of a version, most likely first."""

    version: str
    checked: int
    estimated_errors: int
    items: tuple[str, ...]
    given: tuple[str, ...]
    suggested: tuple[str, ...]
    scores: tuple[float, ...]
    by: str
    probabilities: str
    queue: str | None = None


class LabelStage(Tasks, Relabelling):
    """Labels of one workspace: the guide, annotations, agreement, aggregation, queues, suspects.

    The verbs live in the parts it combines: the label document, annotations and item access
    (:class:`~flywheel_ml.label.annotating.Annotating`), agreement and aggregation
    (:class:`~flywheel_ml.label.consensus.Consensus`), ``apply``
    (:class:`~flywheel_ml.label.apply.Relabelling`) and queues
    (:class:`~flywheel_ml.label.tasks.Tasks`); suspected label errors and the evidence for
    ``status`` are here. The arguments (store, data stage, activity log, model loader) are
    :class:`~flywheel_ml.label.annotating.Annotating`'s.
    """

    # -- suspects --------------------------------------------------------------------------

    def suspects(
        self,
        ref: str,
        *,
        top: int | None = None,
        model: str | None = None,
        estimator: Any = None,
        folds: int = 5,
        by: Ranking = "log_ratio",
        queue: str | None = None,
        annotators: Sequence[str] = (ANYONE,),
    ) -> SuspectReport:
        """Items of version ``ref`` whose label is likely wrong, most likely first.

        Probabilities: out-of-fold ``predict_proba`` of ``estimator`` (default: standardised
        logistic regression), or the registry ``model``'s (out-of-fold only when the model
        never trained on these items). Only train and val items are checked: test labels stay
        sealed. With ``queue`` the suspects go into a review queue with the model's class as
        pre-label. The result is recorded for ``status``.

        Raises:
            InvalidInputError: an unlabelled dataset or fewer than two classes.
        """
        version = self._data.get_version(ref)
        frame, id_col, label = self._frame(version.digest)
        if label is None:
            raise InvalidInputError(
                f"{version.ref} has no labels to check", hint="label apply first"
            )
        frame = frame.loc[frame[label].notna() & (frame["__split__"] != "test")]
        given = [class_key(v) or "" for v in frame[label].tolist()]
        classes = sorted(set(given), key=natural_key)
        if len(classes) < 2:
            raise InvalidInputError(
                f"{version.ref} has fewer than two classes", hint="suspects compare classes"
            )
        index = {c: i for i, c in enumerate(classes)}
        y = np.fromiter((index[g] for g in given), dtype=np.int64, count=len(given))
        if model is not None:
            loaded = self.model(model)
            raw = np.asarray(loaded.predict_proba(self._features(frame, id_col, label, loaded)))
            probs = np.zeros((len(y), len(classes)))
            for j, c in enumerate(loaded.classes):
                if class_key(c) in index:
                    probs[:, index[class_key(c) or ""]] = raw[:, j]
            source = f"model {model}"
        else:
            X = self._features(frame, id_col, label, None)
            probs = out_of_fold_probabilities(estimator or _default_estimator(), X, y, folds=folds)
            source = f"{folds}-fold out-of-fold {type(estimator or _default_estimator()).__name__}"
        found = find_suspects(y, probs, by=by)
        cut = found.indices if top is None else found.indices[:top]
        ids = frame[id_col].astype(str).to_numpy()
        report = SuspectReport(
            version=version.ref,
            checked=len(y),
            estimated_errors=found.estimated_errors,
            items=tuple(ids[cut].tolist()),
            given=tuple(classes[y[i]] for i in cut),
            suggested=tuple(classes[s] for s in found.suggested[: len(cut)]),
            scores=tuple(float(s) for s in found.scores[: len(cut)]),
            by=by,
            probabilities=source,
            queue=queue,
        )
        if queue is not None and report.items:
            rows = {int(i): r for r, i in enumerate(cut)}
            self.enqueue(
                queue,
                [
                    QueueItem(
                        item=item,
                        prelabel=sug,
                        confidence=float(probs[i, index[sug]]),
                        score=-score,
                        provenance=f"suspect: given {giv}, model says {sug}",
                    )
                    for (i, _), item, giv, sug, score in zip(
                        rows.items(),
                        report.items,
                        report.given,
                        report.suggested,
                        report.scores,
                        strict=True,
                    )
                ],
                dataset=version.dataset,
                annotators=annotators,
            )
        self._store.add_record(
            LabelRecord(
                new_id(),
                "suspects",
                version.dataset,
                {
                    "version": version.ref,
                    "checked": report.checked,
                    "estimated_errors": report.estimated_errors,
                    "listed": len(report.items),
                    "probabilities": source,
                    "queue": queue,
                },
                current_actor(),
                utc_now(),
            )
        )
        return report

    # -- status ----------------------------------------------------------------------------

    def deliverables(self) -> tuple[Deliverable, ...]:
        """Evidence for ``status``: the label document, annotations, agreement, error list."""
        guide = self.guide()
        annotations = self._store.list_annotations()
        annotators = {a.annotator for a in annotations if a.source == "human"}
        baseline = self._store.latest_record("agreement")
        suspects = self._store.latest_record("suspects")
        return (
            Deliverable(
                "label document",
                guide is not None,
                evidence=f"guide v{guide.version}, {len(guide.classes)} classes" if guide else "",
                next_step="" if guide else "flywheel label guide edit",
            ),
            Deliverable(
                "annotations with provenance",
                bool(annotations),
                evidence=f"{len(annotations):,} annotations by {len(annotators)} annotator(s)"
                if annotations
                else "",
                next_step=""
                if annotations
                else "flywheel label import FILE --dataset NAME --annotator NAME",
            ),
            Deliverable(
                "agreement",
                baseline is not None,
                evidence=f"Krippendorff's alpha {_shown(baseline.record.get('alpha_nominal'))} "
                f"on {baseline.dataset} ({baseline.at:%Y-%m-%d})"
                if baseline
                else "",
                next_step="" if baseline else "flywheel label agreement --dataset NAME",
            ),
            Deliverable(
                "label-error list",
                suspects is not None,
                evidence=f"{suspects.record.get('estimated_errors')} estimated wrong of "
                f"{suspects.record.get('checked')} in {suspects.record.get('version')}"
                if suspects
                else "",
                next_step="" if suspects else "flywheel label suspects NAME@latest",
            ),
        )


def _default_estimator() -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=300))


def _shown(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, float) else "n/a"
