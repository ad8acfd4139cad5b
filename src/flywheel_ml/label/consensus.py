"""Agreement between annotators (the human baseline) and aggregation of annotators and
labelling functions into probabilistic labels (weak supervision)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from flywheel_ml.core.clock import utc_now
from flywheel_ml.core.identity import current_actor
from flywheel_ml.core.ids import new_id
from flywheel_ml.data.versions import check_name
from flywheel_ml.errors import InvalidInputError
from flywheel_ml.label.aggregation import Aggregate, dawid_skene, majority_vote
from flywheel_ml.label.agreement import AgreementReport, agreement_report
from flywheel_ml.label.annotating import (
    LABEL_CONFIDENCE_COLUMN,
    LABEL_SOURCE_COLUMN,
    Annotating,
    natural_key,
)
from flywheel_ml.label.annotations import class_key
from flywheel_ml.label.entities import LabelFunction, LabelRecord
from flywheel_ml.label.functions import check_target, run_function


@dataclass(frozen=True, slots=True)
class Aggregation:
    """The result of :meth:`LabelStage.aggregate`.

    Attributes:
        items: item ids, in the row order of ``probs``.
        classes: class names, in the column order of ``probs``.
        probs: ``(items, classes)`` probabilistic labels.
        sources: source names (annotators; ``lf:NAME`` for labelling functions).
        accuracy: each source's estimated accuracy; coverage: share of items it labelled.
        annotated: which items at least one human or model annotation labelled.
    """

    dataset: str
    method: str
    items: tuple[str, ...]
    classes: tuple[str, ...]
    probs: npt.NDArray[np.float64]
    sources: tuple[str, ...]
    accuracy: dict[str, float]
    coverage: dict[str, float]
    annotated: npt.NDArray[np.bool_]
    labelled: npt.NDArray[np.bool_]

    @property
    def labels(self) -> list[str | None]:
        """The most probable class of each item (None when no source voted)."""
        best = self.probs.argmax(axis=1)
        return [
            self.classes[c] if ok else None
            for c, ok in zip(best.tolist(), self.labelled.tolist(), strict=True)
        ]

    @property
    def confidence(self) -> npt.NDArray[np.float64]:
        """The probability of each item's chosen class."""
        return np.asarray(self.probs.max(axis=1, initial=0.0), dtype=np.float64)


class Consensus(Annotating):
    """Agreement, labelling functions, aggregation (see :class:`Annotating` for the arguments)."""

    # -- agreement -------------------------------------------------------------------------

    def _ratings(
        self, dataset: str, *, sources: tuple[str, ...] = ("human",)
    ) -> tuple[npt.NDArray[np.int64], list[str], list[str], list[str]]:
        """``(ratings, items, annotators, classes)``: each annotator's newest class label."""
        newest: dict[tuple[str, str], str] = {}
        for a in self._store.list_annotations(dataset=dataset):
            key = class_key(a.label)
            if a.source in sources and key is not None:
                newest[(a.item, a.annotator)] = key
        guide = self.guide()
        classes = list(guide.class_names) if guide is not None and guide.classes else []
        classes += sorted({k for k in newest.values()} - set(classes), key=natural_key)
        items = sorted({i for i, _ in newest})
        annotators = sorted({a for _, a in newest})
        item_index = {v: i for i, v in enumerate(items)}
        ann_index = {v: i for i, v in enumerate(annotators)}
        class_index = {v: i for i, v in enumerate(classes)}
        ratings = np.full((len(items), len(annotators)), -1, dtype=np.int64)
        if newest:
            keys = list(newest)
            rows = np.fromiter((item_index[i] for i, _ in keys), dtype=np.int64)
            cols = np.fromiter((ann_index[a] for _, a in keys), dtype=np.int64)
            ratings[rows, cols] = np.fromiter(
                (class_index[v] for v in newest.values()), dtype=np.int64
            )
        return ratings, items, annotators, classes

    def agreement(self, dataset: str, *, record: bool = True) -> AgreementReport:
        """Agreement of the human annotators of ``dataset`` (their newest label per item).

        With ``record`` (default) the result is kept as the dataset's human baseline
        (:meth:`human_baseline`).

        Raises:
            InvalidInputError: fewer than two annotators labelled a common item.
        """
        ratings, _, annotators, classes = self._ratings(dataset)
        if len(annotators) < 2 or not ((ratings >= 0).sum(axis=1) >= 2).any():
            raise InvalidInputError(
                f"agreement needs items of {dataset} labelled by at least two annotators",
                hint="create a queue with --overlap 0.2 and two or more --annotators",
            )
        report = agreement_report(
            ratings, dataset=dataset, annotators=tuple(annotators), classes=tuple(classes)
        )
        if record:
            self._store.add_record(
                LabelRecord(
                    new_id(),
                    "agreement",
                    dataset,
                    agreement_json(report),
                    current_actor(),
                    utc_now(),
                )
            )
            self._events.record(
                stage="label",
                kind="agreement.recorded",
                subject=dataset,
                detail={"alpha": _finite(report.alpha_nominal)},
            )
        return report

    def human_baseline(self, dataset: str | None = None) -> dict[str, Any] | None:
        """The newest recorded agreement (of ``dataset``, or of any) as JSON data, or None.

        Keys: ``dataset``, ``at``, ``items``, ``annotators``, ``accuracy`` (per annotator, vs
        the others' majority), ``mean_accuracy`` (the human baseline to compare models with),
        ``fleiss_kappa``, ``alpha_nominal``, ``alpha_ordinal``, ``cohen`` (per pair).
        """
        found = self._store.latest_record("agreement", dataset=dataset)
        return None if found is None else {**found.record, "at": found.at}

    # -- labelling functions and aggregation ------------------------------------------------

    def add_function(self, name: str, target: str, *, description: str = "") -> LabelFunction:
        """Register (or replace) labelling function ``name`` = ``module:function``."""
        function = LabelFunction(
            check_name(name), check_target(target), utc_now(), current_actor(), description
        )
        self._store.put_function(function)
        self._events.record(stage="label", kind="function.saved", subject=name)
        return function

    def functions(self) -> list[LabelFunction]:
        """Registered labelling functions, by name."""
        return self._store.list_functions()

    def remove_function(self, name: str) -> bool:
        """Unregister a labelling function; whether it existed."""
        return self._store.delete_function(name)

    def aggregate(
        self,
        dataset: str,
        *,
        method: str = "majority",
        functions: bool = True,
        record: bool = True,
    ) -> Aggregation:
        """Combine annotators and labelling functions into probabilistic labels.

        Sources: every annotator (human or model annotations, newest label per item) and, with
        ``functions``, every labelling function run on the newest version's items (features
        only; abstentions are None). Items: those any source labelled.

        Raises:
            InvalidInputError: an unknown method, or nothing to aggregate.
        """
        if method not in ("majority", "dawid-skene"):
            raise InvalidInputError(
                f"unknown method {method!r}", hint="use majority or dawid-skene"
            )
        ratings, items, annotators, classes = self._ratings(dataset, sources=("human", "model"))
        sources = list(annotators)
        votes = ratings
        lfs = self._store.list_functions() if functions else []
        if lfs:
            votes, items, classes = self._with_functions(dataset, lfs, votes, items, classes)
            sources += [f"lf:{f.name}" for f in lfs]
        if not items or not sources:
            raise InvalidInputError(
                f"no labels of {dataset} to aggregate",
                hint="import annotations or add labelling functions",
            )
        annotated = (votes[:, : len(annotators)] >= 0).any(axis=1)
        k = max(len(classes), 1)
        result: Aggregate = (
            dawid_skene(votes, k=k) if method == "dawid-skene" else majority_vote(votes, k=k)
        )
        out = Aggregation(
            dataset=dataset,
            method=method,
            items=tuple(items),
            classes=tuple(classes),
            probs=result.probs,
            sources=tuple(sources),
            accuracy={s: float(result.accuracy[i]) for i, s in enumerate(sources)},
            coverage={s: float(result.coverage[i]) for i, s in enumerate(sources)},
            annotated=np.asarray(annotated, dtype=bool),
            labelled=result.labelled,
        )
        if record:
            summary = {
                "method": method,
                "items": len(items),
                "sources": sources,
                "accuracy": {s: _finite(v) for s, v in out.accuracy.items()},
                "coverage": out.coverage,
            }
            self._store.add_record(
                LabelRecord(new_id(), "aggregation", dataset, summary, current_actor(), utc_now())
            )
        return out

    def _with_functions(
        self,
        dataset: str,
        lfs: Sequence[LabelFunction],
        ratings: npt.NDArray[np.int64],
        items: list[str],
        classes: list[str],
    ) -> tuple[npt.NDArray[np.int64], list[str], list[str]]:
        frame, id_col, label_col = self._frame(f"{dataset}@latest")
        features = frame.drop(
            columns=[
                c
                for c in (
                    id_col,
                    label_col,
                    "__split__",
                    LABEL_SOURCE_COLUMN,
                    LABEL_CONFIDENCE_COLUMN,
                )
                if c and c in frame.columns
            ]
        )
        ids = frame[id_col].astype(str).tolist()
        outputs = [run_function(f.target, features) for f in lfs]
        extra = sorted(
            {v for out in outputs for v in out if v is not None} - set(classes), key=natural_key
        )
        classes = classes + extra
        class_index = {c: i for i, c in enumerate(classes)}
        voted_items = {ids[r] for out in outputs for r, v in enumerate(out) if v is not None}
        all_items = items + sorted(voted_items - set(items))
        row_of = {item: i for i, item in enumerate(all_items)}
        votes = np.full((len(all_items), ratings.shape[1] + len(lfs)), -1, dtype=np.int64)
        votes[: len(items), : ratings.shape[1]] = ratings
        for j, out in enumerate(outputs):
            for item, value in zip(ids, out, strict=True):
                if value is not None and item in row_of:
                    votes[row_of[item], ratings.shape[1] + j] = class_index[value]
        return votes, all_items, classes


def _finite(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def agreement_json(report: AgreementReport) -> dict[str, Any]:
    """An agreement report as JSON data (NaN as null)."""
    return {
        "dataset": report.dataset,
        "items": report.items,
        "annotators": list(report.annotators),
        "classes": list(report.classes),
        "cohen": {k: _finite(v) for k, v in report.cohen.items()},
        "fleiss_kappa": _finite(report.fleiss_kappa),
        "alpha_nominal": _finite(report.alpha_nominal),
        "alpha_ordinal": _finite(report.alpha_ordinal),
        "accuracy": {k: _finite(v) for k, v in report.accuracy.items()},
        "support": dict(report.support),
        "mean_accuracy": _finite(report.mean_accuracy),
    }
