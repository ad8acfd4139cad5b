"""Aggregating many sources' labels into one probabilistic label per item.

Sources are annotators and labelling functions alike. ``votes`` is an integer array of shape
``(items, sources)`` with class codes ``0 .. k-1`` and ``-1`` for an abstention (or no vote).

* :func:`majority_vote` — class shares of the votes.
* :func:`dawid_skene` — EM over one confusion matrix per source (Dawid & Skene, 1979): sources
  that are often right weigh more, and each source's accuracy is estimated without ground truth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from flywheel_ml.label.agreement import category_counts

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Aggregate:
    """Probabilistic labels and per-source estimates.

    Attributes:
        probs: ``(items, k)`` class probabilities; rows of items nobody voted on are all zero.
        labelled: which items got at least one vote.
        accuracy: per source, the estimated share of its (non-abstaining) votes that are right.
        coverage: per source, the share of items it voted on.
        iterations: EM iterations run (0 for majority vote).
    """

    probs: FloatArray
    labelled: npt.NDArray[np.bool_]
    accuracy: FloatArray
    coverage: FloatArray
    iterations: int = 0

    @property
    def label(self) -> npt.NDArray[np.int64]:
        """The most probable class code per item (-1 where nobody voted)."""
        out: npt.NDArray[np.int64] = self.probs.argmax(axis=1).astype(np.int64)
        out[~self.labelled] = -1
        return out

    @property
    def confidence(self) -> FloatArray:
        """The probability of the chosen class (0 where nobody voted)."""
        return np.asarray(self.probs.max(axis=1), dtype=np.float64)


def _source_accuracy(votes: npt.NDArray[np.integer], probs: FloatArray) -> FloatArray:
    """Expected share of each source's votes that equal the (probabilistic) true class."""
    out = np.full(votes.shape[1], np.nan)
    for s in range(votes.shape[1]):
        voted = votes[:, s] >= 0
        if voted.any():
            rows = np.flatnonzero(voted)
            out[s] = float(probs[rows, votes[rows, s]].mean())
    return out


def majority_vote(votes: npt.NDArray[np.integer], *, k: int) -> Aggregate:
    """Each item's class shares among its votes (ties stay ties in ``probs``)."""
    counts = category_counts(votes, k).astype(np.float64)
    total = counts.sum(axis=1)
    labelled = total > 0
    probs = np.zeros_like(counts)
    probs[labelled] = counts[labelled] / total[labelled, None]
    return Aggregate(probs, labelled, _source_accuracy(votes, probs), (votes >= 0).mean(axis=0), 0)


def dawid_skene(
    votes: npt.NDArray[np.integer],
    *,
    k: int,
    max_iter: int = 100,
    tol: float = 1e-6,
    smoothing: float = 0.01,
) -> Aggregate:
    """Dawid–Skene EM, started from the majority vote.

    Args:
        votes: ``(items, sources)`` class codes, ``-1`` = abstain.
        k: the number of classes.
        max_iter: the most EM iterations.
        tol: stop when no item probability moves more than this.
        smoothing: a pseudo-count added to every confusion cell (no log of zero).

    Returns:
        Posterior class probabilities per item, and each source's estimated accuracy.
    """
    start = majority_vote(votes, k=k)
    labelled = start.labelled
    posts = start.probs[labelled]
    sub = votes[labelled].astype(np.int64)
    n, m = sub.shape
    eye = np.eye(k)
    iterations = 0
    for iterations in range(1, max_iter + 1):  # noqa: B007 - reported below
        prior = posts.mean(axis=0) + 1e-12
        log_post = np.tile(np.log(prior), (n, 1))
        for s in range(m):
            voted = sub[:, s] >= 0
            rows = np.flatnonzero(voted)
            given = sub[rows, s]
            # confusion[true, given]: soft counts of each true class voted as each class.
            confusion = posts[rows].T @ eye[given] + smoothing
            confusion /= confusion.sum(axis=1, keepdims=True)
            log_post[rows] += np.log(confusion[:, given]).T
        log_post -= log_post.max(axis=1, keepdims=True)
        new = np.exp(log_post)
        new /= new.sum(axis=1, keepdims=True)
        delta = float(np.abs(new - posts).max())
        posts = new
        if delta < tol:
            break
    probs = np.zeros((votes.shape[0], k))
    probs[labelled] = posts
    return Aggregate(
        probs, labelled, _source_accuracy(votes, probs), (votes >= 0).mean(axis=0), iterations
    )
