"""Choosing which items to label next, and who labels them.

Scores are higher for more informative items: least confidence ``1 - max p``, margin
``1 - (p1 - p2)``, entropy ``-sum p log p``. Diversity picks items by greedy k-center on the
(standardised) features: each next item is the one farthest from every item chosen so far.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from flywheel_ml.errors import InvalidInputError

FloatArray = npt.NDArray[np.float64]
MODEL_STRATEGIES = ("uncertainty", "margin", "entropy")


def uncertainty_scores(probs: FloatArray, strategy: str) -> FloatArray:
    """The informativeness of each row of class probabilities under ``strategy``.

    Raises:
        InvalidInputError: an unknown strategy.
    """
    if strategy == "uncertainty":
        return np.asarray(1.0 - probs.max(axis=1), dtype=np.float64)
    if strategy == "margin":
        if probs.shape[1] < 2:
            return np.zeros(probs.shape[0])
        top2 = np.partition(probs, -2, axis=1)[:, -2:]
        return np.asarray(1.0 - (top2[:, 1] - top2[:, 0]), dtype=np.float64)
    if strategy == "entropy":
        clipped = np.clip(probs, 1e-12, 1.0)
        return np.asarray(-(probs * np.log(clipped)).sum(axis=1), dtype=np.float64)
    raise InvalidInputError(
        f"unknown uncertainty strategy {strategy!r}", hint="use uncertainty, margin or entropy"
    )


def k_center(features: FloatArray, size: int, *, seed: int = 0) -> npt.NDArray[np.int64]:
    """Greedy k-center: ``size`` row indices that cover the feature space (farthest-first).

    Features are standardised per column first. The first center is a seeded random row.
    """
    n = features.shape[0]
    size = min(size, n)
    if size <= 0:
        return np.zeros(0, dtype=np.int64)
    x = np.asarray(features, dtype=np.float64)
    scale = x.std(axis=0)
    x = (x - x.mean(axis=0)) / np.where(scale > 0, scale, 1.0)
    norms = (x * x).sum(axis=1)
    chosen = np.empty(size, dtype=np.int64)
    chosen[0] = np.random.default_rng(seed).integers(n)
    nearest = np.full(n, np.inf)
    for i in range(1, size):
        c = x[chosen[i - 1]]
        nearest = np.minimum(nearest, norms - 2.0 * (x @ c) + c @ c)
        chosen[i] = int(nearest.argmax())
    return chosen


def assign(
    count: int, annotators: Sequence[str], *, overlap: float, seed: int = 0
) -> list[list[str]]:
    """Who labels each of ``count`` items (in queue order).

    A seeded ``overlap`` share of the items goes to every annotator (for agreement); the rest
    go to one annotator each, round-robin, so the work is even.

    Raises:
        InvalidInputError: no annotators, or overlap outside [0, 1].
    """
    if not annotators:
        raise InvalidInputError("a queue needs at least one annotator", hint="--annotators a,b")
    if not 0.0 <= overlap <= 1.0:
        raise InvalidInputError(f"overlap {overlap} is outside [0, 1]", hint="e.g. --overlap 0.2")
    shared = np.zeros(count, dtype=bool)
    n_shared = round(overlap * count) if len(annotators) > 1 else 0
    if n_shared:
        shared[np.random.default_rng(seed).choice(count, size=n_shared, replace=False)] = True
    out: list[list[str]] = []
    turn = 0
    for i in range(count):
        if shared[i]:
            out.append(list(annotators))
        else:
            out.append([annotators[turn % len(annotators)]])
            turn += 1
    return out
