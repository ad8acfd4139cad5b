"""Ranking likely label errors from out-of-fold class probabilities (confident learning).

Given labels ``y`` (codes ``0 .. k-1``) and out-of-fold probabilities ``p`` (``(n, k)``, from a
model that never trained on the row it scores):

* per-class thresholds ``t_j`` = the mean ``p[:, j]`` over items labelled ``j``;
* the confident joint ``C[given, true]`` counts items whose probability of some class reaches
  that class's threshold (the most probable such class is the "true" one);
* how many labels are wrong: the off-diagonal count of ``C`` underestimates it when the model
  is unsure (items under every threshold are not counted), the off-diagonal of ``C``
  calibrated to the label counts overestimates it when the model itself errs; the estimate is
  their geometric mean;
* every item is ranked by self-confidence ``p[i, y_i]`` or by the normalised margin
  ``p[i, y_i] - max_{j != y_i} p[i, j]`` (lowest first) and the list is cut at the estimate.

Measured against cleanlab 2.9 in ``benchmarks/label_vs_peers.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from flywheel_ml.errors import InvalidInputError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Ranking = Literal["self_confidence", "normalized_margin"]


@dataclass(frozen=True, slots=True)
class Suspects:
    """Likely wrong labels, most likely first.

    Attributes:
        indices: row indices of the suspects, most likely wrong first.
        scores: the ranking score of each suspect (lower = more likely wrong).
        estimated_errors: the confident-joint estimate of how many labels are wrong.
        suggested: the most probable other class of each suspect.
        joint: the calibrated confident joint ``(k, k)`` (rows: given label, columns: true).
    """

    indices: IntArray
    scores: FloatArray
    estimated_errors: int
    suggested: IntArray
    joint: FloatArray


def _check(labels: npt.NDArray[np.integer], probs: FloatArray) -> None:
    if probs.ndim != 2 or labels.shape != (probs.shape[0],):
        raise InvalidInputError(
            f"labels of shape {labels.shape} do not match probabilities of shape {probs.shape}",
            hint="give one label per row of probabilities",
        )
    if labels.size and (labels.min() < 0 or labels.max() >= probs.shape[1]):
        raise InvalidInputError("labels must be class codes 0..k-1", hint="encode the classes")


_BLOCK = 1024
"""Rows per block of the threshold pass: a block's temporaries stay in the CPU cache."""


def _confident_classes(
    probs: FloatArray, thresholds: FloatArray
) -> tuple[IntArray, npt.NDArray[np.bool_]]:
    """Per row, the most probable class among those at or above their threshold, and whether
    any class is (rows where none is are not counted in the confident joint)."""
    n, k = probs.shape
    true = np.empty(n, dtype=np.int64)
    confident = np.empty(n, dtype=bool)
    # Reused buffers: no allocation per block.
    at_least = np.empty((_BLOCK, k), dtype=bool)
    masked = np.empty((_BLOCK, k))
    rows = np.arange(_BLOCK)
    for start in range(0, n, _BLOCK):
        block = probs[start : start + _BLOCK]
        m = block.shape[0]
        np.greater_equal(block, thresholds, out=at_least[:m])
        np.multiply(block, at_least[:m], out=masked[:m])
        best = masked[:m].argmax(axis=1)
        true[start : start + m] = best
        confident[start : start + m] = masked[rows[:m], best] > 0
    return true, confident


def rank_scores(labels: npt.NDArray[np.integer], probs: FloatArray, *, by: Ranking) -> FloatArray:
    """The ranking score of every row (lower = more likely mislabelled)."""
    rows = np.arange(labels.size)
    self_conf = probs[rows, labels]
    if by == "self_confidence":
        return np.asarray(self_conf, dtype=np.float64)
    others = probs.copy()
    others[rows, labels] = -np.inf
    return np.asarray(self_conf - others.max(axis=1), dtype=np.float64)


def find_suspects(
    labels: npt.NDArray[np.integer],
    probs: FloatArray,
    *,
    by: Ranking = "self_confidence",
) -> Suspects:
    """Suspected label errors among ``labels`` given out-of-fold ``probs`` (see the module doc).

    Raises:
        InvalidInputError: shapes or codes that do not match.
    """
    codes: IntArray = np.asarray(labels, dtype=np.int64)
    probs = np.asarray(probs, dtype=np.float64)
    _check(codes, probs)
    labels = codes
    n, k = probs.shape
    counts = np.bincount(codes, minlength=k).astype(np.float64)
    self_confidence = probs[np.arange(n), codes]
    # t_j: the mean probability of class j over the items labelled j (one weighted bincount).
    summed = np.bincount(codes, weights=self_confidence, minlength=k)
    thresholds = np.divide(summed, counts, out=np.ones(k), where=counts > 0)
    true, confident = _confident_classes(probs, thresholds - 1e-12)
    joint = np.bincount(labels[confident] * k + true[confident], minlength=k * k)
    joint = joint.reshape(k, k).astype(np.float64)
    # Calibrate: each row sums to the number of items given that label.
    row_totals = joint.sum(axis=1, keepdims=True)
    calibrated = np.divide(
        joint * counts[:, None], row_totals, out=np.zeros_like(joint), where=row_totals > 0
    )
    counted = float(joint.sum() - np.trace(joint))
    scaled = float(calibrated.sum() - np.trace(calibrated))
    estimated = min(round(float(np.sqrt(counted * scaled))), n)
    scores = self_confidence if by == "self_confidence" else rank_scores(codes, probs, by=by)
    if 0 < estimated < n:
        lowest = np.argpartition(scores, estimated - 1)[:estimated]
    else:
        lowest = np.arange(n if estimated else 0)
    chosen = lowest[np.argsort(scores[lowest], kind="stable")]
    others = probs[chosen].copy()
    others[np.arange(chosen.size), codes[chosen]] = -np.inf
    suggested = others.argmax(axis=1).astype(np.int64)
    return Suspects(chosen.astype(np.int64), scores[chosen], estimated, suggested, calibrated)


def out_of_fold_probabilities(
    estimator: object,
    X: FloatArray,
    labels: npt.NDArray[np.integer],
    *,
    folds: int = 5,
    seed: int = 0,
) -> FloatArray:
    """Out-of-fold ``predict_proba`` of a scikit-learn estimator (stratified ``folds``-fold).

    Each row is scored by a clone fitted without it, so a memorised wrong label cannot hide.
    """
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    folds = max(2, min(folds, int(np.bincount(np.asarray(labels)).min(initial=folds))))
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    probs = cross_val_predict(estimator, X, labels, cv=cv, method="predict_proba")
    return np.asarray(probs, dtype=np.float64)
