"""Choosing production predictions to send back to labelling.

Four reasons, combined and deduplicated (one item per logged request row, and one per distinct
input vector):

* ``low-confidence`` — the answer's top probability is below a threshold;
* ``disagreement`` — the shadow or canary answered differently from the champion on the row;
* ``drifted-region`` — the row's value of a drifted feature lies where current traffic is much
  denser than the reference (the grid bins with the largest current/reference ratio);
* ``calibration`` — a uniform random sample, so the labelled set also measures live accuracy
  without the bias of the other three.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from flywheel_ml.errors import InvalidInputError
from flywheel_ml.label.entities import QueueItem
from flywheel_ml.monitor.binning import NumericBins, ReferenceBinning, numeric_grid_index

if TYPE_CHECKING:
    import pandas as pd

    from flywheel_ml.monitor.stage import MonitorStage


@dataclass(frozen=True, slots=True)
class FeedbackOptions:
    """Which production rows to select.

    Attributes:
        low_confidence: select rows whose top probability is below this (None: off).
        disagreement: select rows where shadow/canary and champion disagree.
        drifted: feature names whose over-represented regions are selected (empty: the
            features the drift test flags, when ``use_drift``).
        use_drift: select rows of drifted regions at all.
        drifted_per_feature: at most this many rows per drifted feature.
        sample: this many uniformly random rows for calibration.
        limit: at most this many items in all (low confidence first, then disagreement,
            drifted regions, calibration).
        seed: for the random sample.
    """

    low_confidence: float | None = 0.6
    disagreement: bool = True
    drifted: tuple[str, ...] = ()
    use_drift: bool = True
    drifted_per_feature: int = 50
    sample: int = 0
    limit: int = 1000
    seed: int = 0


@dataclass(frozen=True, slots=True)
class Selected:
    """A production row chosen for labelling."""

    request_id: str
    row: int
    features: dict[str, float]
    prediction: str
    confidence: float | None
    reasons: tuple[str, ...] = field(default_factory=tuple)

    @property
    def item_id(self) -> str:
        """The item id it gets in the dataset: the request id (``-row`` past the first row)."""
        return self.request_id if self.row == 0 else f"{self.request_id}-{self.row}"

    @property
    def provenance(self) -> str:
        """Where it came from and why it was chosen."""
        return f"from production, request id {self.request_id} ({', '.join(self.reasons)})"


def _confidence(log: pd.DataFrame) -> npt.NDArray[np.float64]:
    return np.array(
        [np.nan if p is None or len(p) == 0 else float(np.max(p)) for p in log["probabilities"]]
    )


def select_feedback(
    log: pd.DataFrame,
    *,
    feature_names: Sequence[str],
    options: FeedbackOptions,
    binning: ReferenceBinning | None = None,
) -> list[Selected]:
    """Rows of a prediction log (as :func:`flywheel_ml.serve.read_predictions` returns it)
    chosen for labelling, each with its reasons, deduplicated, at most ``options.limit``."""
    n = len(log)
    if n == 0:
        return []
    reasons: list[list[str]] = [[] for _ in range(n)]
    order: list[int] = []

    def pick(rows: npt.NDArray[np.intp], why: str) -> None:
        for r in rows.tolist():
            if not reasons[r]:
                order.append(r)
            if why not in reasons[r]:
                reasons[r].append(why)

    confidence = _confidence(log)
    if options.low_confidence is not None:
        low = np.flatnonzero(confidence < options.low_confidence)
        pick(low[np.argsort(confidence[low], kind="stable")], "low-confidence")
    if options.disagreement:
        pred = log["prediction"].astype(object)
        shadow = log["shadow_prediction"].astype(object)
        base = log["baseline_prediction"].astype(object)
        differs = (shadow.notna() & (shadow != pred)) | (base.notna() & (base != pred))
        pick(np.flatnonzero(differs.to_numpy()), "disagreement")
    matrix = np.vstack(list(log["features"]))
    if options.use_drift and options.drifted and binning is not None:
        for name in options.drifted:
            bins = binning.columns.get(name)
            if not isinstance(bins, NumericBins) or name not in feature_names:
                continue
            values = matrix[:, list(feature_names).index(name)]
            pick(_over_represented(values, bins, options.drifted_per_feature), f"drifted:{name}")
    if options.sample > 0:
        rng = np.random.default_rng(options.seed)
        pick(rng.permutation(n)[: options.sample], "calibration")
    return _deduplicated(log, order, reasons, matrix, confidence, feature_names, options.limit)


def _deduplicated(
    log: pd.DataFrame,
    order: list[int],
    reasons: list[list[str]],
    matrix: npt.NDArray[np.float64],
    confidence: npt.NDArray[np.float64],
    feature_names: Sequence[str],
    limit: int,
) -> list[Selected]:
    """The picked rows in pick order, one per request row and one per distinct input."""
    seen_rows: set[tuple[str, int]] = set()
    seen_inputs: set[bytes] = set()
    chosen: list[Selected] = []
    for r in order:
        key = (str(log["request_id"].iat[r]), int(str(log["row"].iat[r])))
        vector = matrix[r]
        digest = vector.tobytes()
        if key in seen_rows or digest in seen_inputs:
            continue
        seen_rows.add(key)
        seen_inputs.add(digest)
        conf = None if np.isnan(confidence[r]) else float(confidence[r])
        chosen.append(
            Selected(
                key[0],
                key[1],
                dict(zip(feature_names, map(float, vector), strict=True)),
                str(log["prediction"].iat[r]),
                conf,
                tuple(reasons[r]),
            )
        )
        if len(chosen) >= limit:
            break
    return chosen


def _over_represented(
    values: npt.NDArray[np.float64], bins: NumericBins, limit: int
) -> npt.NDArray[np.intp]:
    """Rows in the grid bins where current traffic is densest relative to the reference."""
    index = numeric_grid_index(values, bins.lo, bins.hi)
    current = np.bincount(index, minlength=bins.counts.size).astype(np.float64)
    ref_share = (bins.counts + 0.5) / (bins.counts.sum() + 0.5 * bins.counts.size)
    cur_share = current / max(current.sum(), 1.0)
    ratio = cur_share / ref_share
    row_ratio: Any = ratio[index]
    dense = np.flatnonzero(row_ratio > 2.0)
    return dense[np.argsort(-row_ratio[dense], kind="stable")][:limit]


def queue_feedback(
    monitor: MonitorStage,
    model: str,
    *,
    queue: str | None = None,
    options: FeedbackOptions | None = None,
    since: timedelta | None = timedelta(days=7),
    now: datetime | None = None,
) -> tuple[str, list[Selected], int]:
    """Send doubtful production predictions of ``model`` to a label queue; the contract is
    :meth:`MonitorStage.feedback`'s."""
    labels = monitor.label_stage()
    version = monitor.model_version(model)
    if not version.dataset:
        raise InvalidInputError(
            f"{version.ref} records no training dataset", hint="register models from runs"
        )
    dataset = version.dataset.split("@", 1)[0]
    name = queue or f"{model}-production"
    chosen = monitor.select_feedback(model, options=options, since=since, now=now)
    items = [
        QueueItem(item=s.item_id, data=s.features, prelabel=s.prediction,
                  confidence=s.confidence, provenance=s.provenance,
                  score=None if s.confidence is None else 1.0 - s.confidence)
        for s in chosen
    ]  # fmt: skip
    added = 0
    if items:
        added = labels.enqueue(
            name, items, dataset=dataset,
            description=f"production predictions of {model} chosen by flywheel monitor",
        )  # fmt: skip
    monitor.record_event(
        "feedback.queued", name, {"model": model, "selected": len(chosen), "added": added}
    )
    return name, chosen, added
