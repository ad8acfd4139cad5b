"""The analyze stage's verbs: errors, slices, failure clusters, comparisons, pipelines, features.

>>> found = ws.analyze.errors("digits-clf@v3", on="val")      # doctest: +SKIP
>>> found.confusion_frame()                                    # doctest: +SKIP
>>> ws.analyze.clusters("digits-clf@v3").frame()               # doctest: +SKIP

Analyses read validation (or training) labels freely; test labels only with a purpose, which the
data stage records as an audited read. Each analysis records a one-line summary in the activity
log (the evidence ``status`` shows); a feature removal is recorded there as a decision.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from flywheel_ml.analyze.clusters import find_failure_clusters
from flywheel_ml.analyze.compare import compare_models
from flywheel_ml.analyze.confusion import analyze_errors
from flywheel_ml.analyze.entities import (
    ClusterAnalysis,
    Decision,
    ErrorAnalysis,
    FeatureReport,
    LoadedModel,
    ModelComparison,
    ModelSource,
    PipelineResult,
    SliceReport,
    SliceResult,
)
from flywheel_ml.analyze.evidence import analyze_deliverables
from flywheel_ml.analyze.features import feature_importance
from flywheel_ml.analyze.pipeline import Link, Pipeline, PipelineStep, measure_pipeline
from flywheel_ml.analyze.scoring import DataSource, Scored, score, score_frame
from flywheel_ml.analyze.slices import DEFAULT_MIN_ROWS, slice_result, slice_results, worst_first
from flywheel_ml.core.events import EventLog
from flywheel_ml.core.lifecycle import Deliverable
from flywheel_ml.errors import InvalidInputError

DECISION_PREFIX = "decision."
_REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}@[A-Za-z0-9][A-Za-z0-9._-]{0,49}")


class AnalyzeStage:
    """Error analysis of the workspace's models.

    Args:
        data: the data stage (versions, audited loads, slices, extra test sets).
        models: loads a model by reference (the workspace wires the registry in).
        events: the activity log; analyses and decisions are recorded there.
        docs_dir: where the error-analysis and experience reports are written.
    """

    def __init__(
        self, *, data: DataSource, models: ModelSource, events: EventLog, docs_dir: Path
    ) -> None:
        self._data = data
        self._models = models
        self._events = events
        self.docs_dir = docs_dir

    def model(self, ref: str) -> LoadedModel:
        """The model ``ref`` names (``digits-clf@v3``, ``digits-clf@champion``)."""
        return self._models(ref)

    def score(
        self, ref: str, *, on: str = "val", dataset: str | None = None, purpose: str | None = None
    ) -> Scored:
        """The model's predictions on split ``on`` (see :func:`~.scoring.score`)."""
        return score(self.model(ref), self._data, on=on, dataset=dataset, purpose=purpose)

    def _scored_slices(
        self,
        ref: str,
        *,
        on: str,
        dataset: str | None,
        purpose: str | None,
        min_rows: int,
        level: float = 0.95,
    ) -> tuple[Scored, list[SliceResult]]:
        """Model ``ref`` scored on split ``on`` of ``dataset`` (default: the version it trained
        on), and its accuracy on every saved slice of that dataset and every class."""
        scored = self.score(ref, on=on, dataset=dataset, purpose=purpose)
        filters = [(s.name, s.where) for s in self._data.list_slices(scored.dataset.dataset)]
        return scored, slice_results(scored, filters, min_rows=min_rows, level=level)

    def errors(
        self,
        ref: str,
        *,
        on: str = "val",
        dataset: str | None = None,
        purpose: str | None = None,
        min_rows: int = DEFAULT_MIN_ROWS,
        mistakes: int = 10,
        record: bool = True,
    ) -> ErrorAnalysis:
        """Confusion matrix, per-class precision/recall/F1, worst slices, the most confident
        mistakes and calibration of model ``ref`` on split ``on``.

        Raises:
            SealedTestError: ``on="test"`` without a ``purpose``.
            InvalidInputError: no labelled rows, a dataset without labels, missing columns.
        """
        scored, slices = self._scored_slices(
            ref, on=on, dataset=dataset, purpose=purpose, min_rows=min_rows
        )
        found = analyze_errors(scored, slices=slices, mistakes=mistakes)
        if record:
            self._record("errors.analyzed", found.model, {
                "dataset": found.dataset, "split": found.split, "rows": found.rows,
                "errors": found.errors, "accuracy": found.accuracy,
            })  # fmt: skip
        return found

    def slices(
        self,
        ref: str,
        *,
        on: str = "val",
        dataset: str | None = None,
        purpose: str | None = None,
        min_rows: int = DEFAULT_MIN_ROWS,
        level: float = 0.95,
        record: bool = True,
    ) -> SliceReport:
        """Accuracy with a bootstrap interval on every saved slice, every class and every extra
        test set (those only with a ``purpose``: reading them is an audited read).

        Raises:
            InvalidInputError: ``level`` outside (0, 1), or the errors of :meth:`errors`.
        """
        if not 0.0 < level < 1.0:
            raise InvalidInputError(f"confidence level {level} must be between 0 and 1",
                                    hint="e.g. --level 0.95")  # fmt: skip
        scored, found = self._scored_slices(
            ref, on=on, dataset=dataset, purpose=purpose, min_rows=min_rows, level=level
        )
        overall = float(scored.correct.mean())
        extra, sealed = self._test_sets(scored.model, purpose, overall, min_rows, level)
        report = SliceReport(
            model=scored.model.ref, dataset=scored.dataset.ref, split=on, rows=scored.rows,
            accuracy=overall, min_rows=min_rows, confidence_level=level,
            slices=tuple(sorted([*found, *extra], key=worst_first)), sealed=tuple(sealed),
        )  # fmt: skip
        if record:
            self._record("slices.analyzed", report.model, {
                "dataset": report.dataset, "split": on, "slices": len(report.slices),
                "too_small": sum(1 for s in report.slices if s.too_small),
            })  # fmt: skip
        return report

    def _test_sets(
        self, model: LoadedModel, purpose: str | None, overall: float, min_rows: int, level: float
    ) -> tuple[list[SliceResult], list[str]]:
        found: list[SliceResult] = []
        sealed: list[str] = []
        for dataset in self._data.list_datasets():
            if dataset.role != "test_set" or not dataset.label:
                continue
            version = self._data.get_version(dataset.name)
            columns = set(version.facts.get("schema", {}).get("columns", {}))
            if columns and not set(model.feature_names) <= columns:
                continue
            if not purpose:
                sealed.append(version.ref)
                continue
            frame = self._data.load(version.ref, purpose=f"analyze {model.ref}: {purpose}")
            if len(frame) == 0:
                continue
            scored = score_frame(model, version, "test", frame, dataset.label)
            found.append(
                slice_result(
                    version.ref,
                    "test_set",
                    f"extra test set {version.ref}",
                    scored.y_true,
                    scored.y_pred,
                    overall=overall,
                    min_rows=min_rows,
                    level=level,
                )
            )
        return found, sealed

    def clusters(
        self,
        ref: str,
        *,
        on: str = "val",
        dataset: str | None = None,
        purpose: str | None = None,
        min_samples: int = 4,
        eps: float | None = None,
        embedding: str | None = None,
        record: bool = True,
    ) -> ClusterAnalysis:
        """DBSCAN failure clusters over the model's mistakes (see :mod:`.clusters`)."""
        if min_samples < 2:
            raise InvalidInputError(f"min_samples {min_samples} is below 2",
                                    hint="use --min-samples 2 or more")  # fmt: skip
        if eps is not None and eps <= 0:
            raise InvalidInputError(f"eps {eps} must be positive",
                                    hint="leave it out to pick it automatically")  # fmt: skip
        scored = self.score(ref, on=on, dataset=dataset, purpose=purpose)
        found = find_failure_clusters(scored, min_samples=min_samples, eps=eps, embedding=embedding)
        if record:
            self._record("clusters.analyzed", found.model, {
                "dataset": found.dataset, "split": on, "errors": found.errors,
                "clusters": len(found.clusters), "eps": found.eps,
            })  # fmt: skip
        return found

    def compare(
        self,
        before: str,
        after: str,
        *,
        on: str = "val",
        dataset: str | None = None,
        purpose: str | None = None,
        min_rows: int = DEFAULT_MIN_ROWS,
    ) -> ModelComparison:
        """Items fixed and broken from model ``before`` to ``after``, and per-slice deltas.

        Both are scored on ``dataset`` (by default the version ``after`` trained on).
        """
        scored_after, slices_after = self._scored_slices(
            after, on=on, dataset=dataset, purpose=purpose, min_rows=min_rows
        )
        scored_before, slices_before = self._scored_slices(
            before, on=on, dataset=scored_after.dataset.ref, purpose=purpose, min_rows=min_rows
        )
        found = compare_models(
            scored_before, scored_after, slices_before=slices_before, slices_after=slices_after
        )
        self._record("models.compared", f"{found.before} -> {found.after}", {
            "dataset": found.dataset, "split": on, "fixed": len(found.fixed),
            "broken": len(found.broken),
        })  # fmt: skip
        return found

    def pipeline(
        self,
        refs: Sequence[str],
        *,
        dataset: str,
        truths: Sequence[str],
        links: Sequence[Link | None] = (),
        on: str = "val",
        purpose: str | None = None,
        name: str = "",
    ) -> PipelineResult:
        """Measure the models ``refs`` as a pipeline on split ``on`` of ``dataset``.

        Args:
            truths: per model, the column with the ground truth of its output.
            links: per model, a callable building its input (None: the default link).

        Raises:
            InvalidInputError: counts of models, truths and links differ, or see
                :func:`~.pipeline.measure_pipeline`.
        """
        if len(truths) != len(refs) or (links and len(links) != len(refs)):
            raise InvalidInputError(
                f"{len(refs)} model(s) need {len(refs)} truth column(s) (and links, if any); "
                f"got {len(truths)} truth(s) and {len(links)} link(s)",
                hint="give one --truth COLUMN per model, in order",
            )
        models = [self.model(r) for r in refs]
        steps = tuple(
            PipelineStep(m.ref, m.estimator, t, m.feature_names, links[i] if links else None)
            for i, (m, t) in enumerate(zip(models, truths, strict=True))
        )
        found = self.measure(Pipeline(name or " → ".join(m.ref for m in models), steps),
                             dataset=dataset, on=on, purpose=purpose)  # fmt: skip
        return found

    def measure(
        self, pipeline: Pipeline, *, dataset: str, on: str = "val", purpose: str | None = None
    ) -> PipelineResult:
        """Measure a pipeline built in Python (any models with ``predict``) on ``dataset``."""
        version = self._data.get_version(dataset)
        frame: Any = self._data.load(
            version.ref, split=on, purpose=None if on != "test" else purpose
        )
        found = measure_pipeline(pipeline, frame, dataset=version.ref)
        self._record("pipeline.measured", pipeline.name, {
            "dataset": version.ref, "split": on, "end_to_end": found.end_to_end,
            "stages": {s.name: s.accuracy for s in found.stages},
        })  # fmt: skip
        return found

    def features(
        self,
        ref: str,
        *,
        on: str = "val",
        dataset: str | None = None,
        repeats: int = 5,
        min_gain: float = 0.0,
        record: bool = True,
        reason: str = "",
    ) -> FeatureReport:
        """Permutation importance per feature; features that do not help are proposed for
        removal and, with ``record``, the removal is recorded as a decision."""
        if repeats < 2:
            raise InvalidInputError(f"repeats {repeats} is below 2", hint="use --repeats 5")
        scored = self.score(ref, on=on, dataset=dataset)
        found = feature_importance(scored, repeats=repeats, min_gain=min_gain)
        if record and found.remove:
            event = self._record(f"{DECISION_PREFIX}remove_features", found.model, {
                "features": list(found.remove), "dataset": found.dataset, "split": on,
                "repeats": repeats, "reason": reason or (
                    f"{len(found.remove)} of {len(found.features)} features do not measurably "
                    f"help {found.model} on {found.dataset} {on} (permutation importance)"),
            })  # fmt: skip
            found = FeatureReport(found.model, found.dataset, found.split, found.rows,
                                  found.repeats, found.features, found.remove,
                                  decision=event)  # fmt: skip
        return found

    def decisions(self) -> list[Decision]:
        """Every decision recorded from an analysis, oldest first."""
        events = self._events.recent(limit=100_000, stage="analyze")
        return [
            Decision(
                e.id, e.kind.removeprefix(DECISION_PREFIX), e.subject, e.actor, e.at, dict(e.detail)
            )
            for e in reversed(events)
            if e.kind.startswith(DECISION_PREFIX)
        ]

    def report_path(self, ref: str) -> Path:
        """Where the error-analysis report of model ``ref`` (``name@vN``) is written.

        Raises:
            InvalidInputError: ``ref`` is not a model reference (it names a file, so nothing
                that could lead out of the documents folder is accepted).
        """
        if not _REF.fullmatch(ref) or ".." in ref:
            raise InvalidInputError(
                f"{ref[:80]!r} is not a model version reference", hint="write NAME@vN"
            )
        return self.docs_dir / f"error-analysis-{ref.replace('@', '-')}.md"

    def deliverables(self) -> tuple[Deliverable, ...]:
        """Evidence for ``status``: analyses run, and the error-analysis report written."""
        return analyze_deliverables(self._events.recent(limit=1000, stage="analyze"), self.docs_dir)

    def _record(self, kind: str, subject: str, detail: dict[str, Any]) -> str:
        return self._events.record(stage="analyze", kind=kind, subject=subject, detail=detail).id
