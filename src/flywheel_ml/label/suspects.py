"""Ranking likely label errors from out-of-fold class probabilities (confident learning).

Given labels ``y`` (codes ``0 .. k-1``) and out-of-fold probabilities ``p`` (``(n, k)``, from a
model that never trained on the row it scores):

* per-class thresholds ``t_j`` = the mean ``p[:, j]`` over items labelled ``j``;
* the confident joint ``C[given, true]`` counts items whose probability of some class reaches
  that class's threshold (the most probable such class is the "true" one);
* how many labels are wrong: the rule "prune by noise rate" of confident learning (Northcutt et
  al., JAIR 2021) applied to the confident joint calibrated to the label counts: for each pair
  (given ``i``, true ``j``), the items labelled ``i`` with the largest margin ``p_j - p_i``, as
  many as the calibrated joint puts in that cell; the count is the number of items so chosen
  whose given label the model does not rank first;
* every item is ranked (lowest first) by the log odds of its given label against the most
  probable other class, ``log p[i, y_i] - log max_{j != y_i} p[i, j]`` (default), by
  self-confidence ``p[i, y_i]``, or by the normalised margin
  ``p[i, y_i] - max_{j != y_i} p[i, j]``;
* the list is that many lowest-ranked items, leaving out every item whose given label the
  model ranks first (no other class is more probable: the model does not disagree).

The count decides the trade between precision and recall, the ranking which items fill it. With
the count of the rule above, the log-odds list has higher precision and higher recall than the
rule's own choice of items (``benchmarks/label_vs_peers.py``). Large inputs are worked on by a
few threads: numpy releases the GIL in the passes that cost.

Why the log odds: the evidence that a label is wrong is how much more probable the best
alternative is than the given class, relative to each other. The margin measures the same
contest on an absolute scale, so a model that spreads its mass over many classes (small
probabilities everywhere) looks sure of nothing; self-confidence ignores the alternative
entirely. The ratio is scale-free, and for a model calibrated on the noisy labels it orders
items as self-confidence does where that is already the better order (one class dominant).
Measured against cleanlab 2.9 in ``benchmarks/label_vs_peers.py``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal, TypeVar

import numpy as np
import numpy.typing as npt

from flywheel_ml.errors import InvalidInputError

T = TypeVar("T")
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
        estimated_errors: how many labels the noise-rate rule finds wrong among the items
            whose given label the model does not rank first (the length of the list).
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


_PARALLEL_ROWS = 1 << 18
"""From this many rows on, the passes are split over threads (below, starting them costs more)."""
_WORKERS = max(1, min(4, os.cpu_count() or 1))


def _in_threads(work: Callable[[T], None], parts: Sequence[T], *, rows: int) -> None:
    """``work(part)`` for every part, on a few threads when ``rows`` is large."""
    if rows < _PARALLEL_ROWS or _WORKERS == 1 or len(parts) == 1:
        for part in parts:
            work(part)
        return
    with ThreadPoolExecutor(_WORKERS) as pool:
        for done in [pool.submit(work, part) for part in parts]:
            done.result()


def _row_pass(probs: FloatArray, thresholds: FloatArray) -> _RowPass:
    n = probs.shape[0]
    top = np.empty(n)
    best = np.empty(n, dtype=np.int64)

    def span(bounds: tuple[int, int]) -> None:
        rows = np.arange(_BLOCK)
        # One argmax per row. The most probable class other than the given one is only needed
        # where it beats the given class, and there it is the most probable class.
        for start in range(bounds[0], bounds[1], _BLOCK):
            block = probs[start : min(start + _BLOCK, bounds[1])]
            m = block.shape[0]
            winner = block.argmax(axis=1)
            best[start : start + m] = winner
            top[start : start + m] = block[rows[:m], winner]

    blocks = -(-n // _BLOCK)
    share = -(-blocks // _WORKERS) * _BLOCK
    _in_threads(span, [(lo, min(lo + share, n)) for lo in range(0, n, share)], rows=n)
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


def _noise_rate_count(
    probs: FloatArray,
    codes: IntArray,
    given: FloatArray,
    eligible: IntArray,
    calibrated: FloatArray,
) -> int:
    """How many of the ``eligible`` rows (the model ranks another class first) the prune-by-
    noise-rate rule chooses: for each off-diagonal cell ``(i, j)``, the ``round(calibrated[i,
    j])`` rows labelled ``i`` with the largest ``p_j - p_i`` (ties at the cut all count)."""
    k = probs.shape[1]
    wants = np.rint(calibrated).astype(np.int64)
    e_codes = codes[eligible]
    # A stable sort of small integers is a radix sort in numpy (several times faster).
    order = np.argsort(e_codes.astype(np.int16) if k <= 1 << 15 else e_codes, kind="stable")
    rows = eligible[order]
    bounds = np.searchsorted(e_codes[order], np.arange(k + 1))
    chosen = np.zeros(k, dtype=np.int64)

    def one_class(i: int) -> None:
        lo, hi = int(bounds[i]), int(bounds[i + 1])
        m = hi - lo
        if m == 0:
            return
        mine = rows[lo:hi]
        # Transposed to one contiguous row per class: each pass over a class's margins
        # below reads memory in order.
        margins = np.ascontiguousarray(np.take(probs, mine, axis=0).T)
        margins -= given[mine]
        hit = np.zeros(m, dtype=bool)
        scratch = np.empty(m)
        members: IntArray | None = None
        for j in range(k):
            want = int(wants[i, j])
            if j == i or want <= 0:
                continue
            # The cut is the want-th largest margin among ALL rows labelled i. When it is
            # positive only eligible rows reach it (the others have p_j <= p_i), so the
            # eligible rows alone give it; otherwise every row labelled i is looked at.
            cut = -np.inf
            if want <= m:
                np.copyto(scratch, margins[j])
                scratch.partition(m - want)
                cut = scratch[m - want]
            if cut <= 0:
                if members is None:  # found once per class, and only when needed
                    members = np.flatnonzero(codes == i)
                column = probs[members, j] - given[members]
                if want < column.size:
                    cut = np.partition(column, column.size - want)[column.size - want]
                else:
                    cut = -np.inf
            hit |= margins[j] >= cut
        chosen[i] = np.count_nonzero(hit)

    _in_threads(one_class, range(k), rows=probs.shape[0])
    return int(chosen.sum())


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
    # Only items the model does not rank first under their given label may be listed, so
    # only they are scored (a fraction of the rows when the model is any good). For them the
    # most probable other class is the most probable class.
    eligible = np.flatnonzero(found.top > given)
    estimated = _noise_rate_count(probs, codes, given, eligible, calibrated)
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
