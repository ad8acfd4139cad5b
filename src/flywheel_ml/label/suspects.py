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
* every item is ranked (lowest first) by the log odds of its given label against the most
  probable other class, ``log p[i, y_i] - log max_{j != y_i} p[i, j]`` (default), by
  self-confidence ``p[i, y_i]``, or by the normalised margin
  ``p[i, y_i] - max_{j != y_i} p[i, j]``;
* the list is the estimated number of lowest-ranked items, leaving out every item whose given
  label the model ranks first (no other class is more probable: the model does not disagree).

Why the log odds: the evidence that a label is wrong is how much more probable the best
alternative is than the given class, relative to each other. The margin measures the same
contest on an absolute scale, so a model that spreads its mass over many classes (small
probabilities everywhere) looks sure of nothing; self-confidence ignores the alternative
entirely. The ratio is scale-free, and for a model calibrated on the noisy labels it orders
items as self-confidence does where that is already the better order (one class dominant).
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
Ranking = Literal["log_ratio", "self_confidence", "normalized_margin"]
RANKINGS: tuple[Ranking, ...] = ("log_ratio", "self_confidence", "normalized_margin")


@dataclass(frozen=True, slots=True)
class Suspects:
    """Likely wrong labels, most likely first.

    Attributes:
        indices: row indices of the suspects, most likely wrong first.
        scores: the ranking score of each suspect (lower = more likely wrong).
        estimated_errors: the confident-joint estimate of how many labels are wrong (the
            list can be shorter: items whose label the model ranks first are never listed).
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


_BLOCK = 8192
"""Rows per block of the row pass: a block's temporaries stay in the CPU cache."""


@dataclass(frozen=True, slots=True)
class _RowPass:
    """What one pass over the rows gives: each row's most probable class and that class's
    probability, and its confident class (if any)."""

    top: FloatArray
    best: IntArray
    true: IntArray
    confident: npt.NDArray[np.bool_]


def _row_pass(probs: FloatArray, thresholds: FloatArray) -> _RowPass:
    n = probs.shape[0]
    top = np.empty(n)
    best = np.empty(n, dtype=np.int64)
    rows = np.arange(_BLOCK)
    # One argmax per row. The most probable class other than the given one is only needed
    # where it beats the given class, and there it is the most probable class: no second pass.
    for start in range(0, n, _BLOCK):
        block = probs[start : start + _BLOCK]
        m = block.shape[0]
        stop = start + m
        winner = block.argmax(axis=1)
        best[start:stop] = winner
        top[start:stop] = block[rows[:m], winner]
    # The confident class is the most probable class among those at or over their threshold.
    # Where the most probable class reaches its own threshold it is that class; only the
    # other rows need the masked argmax, and of them only those whose most probable class
    # reaches the lowest threshold can have a confident class at all.
    true = best.copy()
    confident = top >= thresholds[best]
    unsure = np.flatnonzero(~confident & (top >= thresholds.min()))
    if unsure.size:
        sub = probs[unsure]
        masked = sub * (sub >= thresholds)
        pick = masked.argmax(axis=1)
        true[unsure] = pick
        confident[unsure] = masked[np.arange(unsure.size), pick] > 0
    return _RowPass(top, best, true, confident)


def _scores(given: FloatArray, other: FloatArray, by: Ranking) -> FloatArray:
    if by == "self_confidence":
        return np.asarray(given, dtype=np.float64)
    if by == "normalized_margin":
        return np.asarray(given - other, dtype=np.float64)
    if by == "log_ratio":
        tiny = np.finfo(np.float64).tiny  # a zero probability: very unlikely, not -inf
        return np.asarray(
            np.log(np.maximum(given, tiny)) - np.log(np.maximum(other, tiny)), dtype=np.float64
        )
    raise InvalidInputError(f"unknown ranking {by!r}", hint="use one of " + ", ".join(RANKINGS))


def rank_scores(labels: npt.NDArray[np.integer], probs: FloatArray, *, by: Ranking) -> FloatArray:
    """The ranking score of every row (lower = more likely mislabelled)."""
    codes = np.asarray(labels, dtype=np.int64)
    probs = np.asarray(probs, dtype=np.float64)
    rows = np.arange(codes.size)
    others = probs.copy()
    others[rows, codes] = -np.inf
    return _scores(probs[rows, codes], others.max(axis=1, initial=-np.inf), by)


def find_suspects(
    labels: npt.NDArray[np.integer],
    probs: FloatArray,
    *,
    by: Ranking = "log_ratio",
) -> Suspects:
    """Suspected label errors among ``labels`` given out-of-fold ``probs`` (see the module doc).

    Raises:
        InvalidInputError: shapes or codes that do not match, or an unknown ranking.
    """
    codes: IntArray = np.asarray(labels, dtype=np.int64)
    probs = np.ascontiguousarray(probs, dtype=np.float64)  # the gathers index the flat buffer
    _check(codes, probs)
    n, k = probs.shape
    if n == 0 or k < 2:
        empty = np.zeros(0, dtype=np.int64)
        return Suspects(empty, np.zeros(0), 0, empty, np.zeros((k, k)))
    counts = np.bincount(codes, minlength=k).astype(np.float64)
    # The thresholds need each row's probability of its given class before the row pass.
    given = probs.ravel()[np.arange(n) * k + codes]
    # t_j: the mean probability of class j over the items labelled j (one weighted bincount).
    summed = np.bincount(codes, weights=given, minlength=k)
    thresholds = np.divide(summed, counts, out=np.ones(k), where=counts > 0)
    found = _row_pass(probs, thresholds - 1e-12)
    confident = found.confident
    joint = np.bincount(codes[confident] * k + found.true[confident], minlength=k * k)
    joint = joint.reshape(k, k).astype(np.float64)
    # Calibrate: each row sums to the number of items given that label.
    row_totals = joint.sum(axis=1, keepdims=True)
    calibrated = np.divide(
        joint * counts[:, None], row_totals, out=np.zeros_like(joint), where=row_totals > 0
    )
    counted = float(joint.sum() - np.trace(joint))
    scaled = float(calibrated.sum() - np.trace(calibrated))
    estimated = min(round(float(np.sqrt(counted * scaled))), n)
    # Only items the model does not rank first under their given label may be listed, so
    # only they are scored (a fraction of the rows when the model is any good). For them the
    # most probable other class is the most probable class.
    eligible = np.flatnonzero(found.top > given)
    scores = _scores(given[eligible], found.top[eligible], by)
    listed = min(estimated, eligible.size)
    lowest = (
        np.argpartition(scores, listed - 1)[:listed]
        if 0 < listed < eligible.size
        else np.arange(listed)
    )
    order = lowest[np.argsort(scores[lowest])]
    chosen = eligible[order].astype(np.int64)
    return Suspects(chosen, scores[order], estimated, found.best[chosen], calibrated)


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
