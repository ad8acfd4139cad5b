"""Inter-annotator agreement, vectorised over a ratings matrix.

Every function takes ``ratings``: an integer array of shape ``(items, annotators)`` holding class
codes ``0 .. k-1`` and ``-1`` where an annotator did not rate an item. Codes are ordered for the
ordinal measure (code order = value order). No per-item Python loops: counts come from
``np.bincount`` and the coincidence matrix from one matrix product.

>>> import numpy as np
>>> r = np.array([[0, 0], [1, 1], [0, 1]])
>>> round(cohen_kappa(r[:, 0], r[:, 1]), 4)
0.4
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
Metric = Literal["nominal", "ordinal"]


def n_classes(ratings: npt.NDArray[np.integer]) -> int:
    """The number of classes: one more than the largest code."""
    return int(ratings.max()) + 1 if ratings.size else 0


def cohen_kappa(
    a: npt.NDArray[np.integer], b: npt.NDArray[np.integer], *, k: int | None = None
) -> float:
    """Cohen's kappa of two annotators over the items both rated (``-1`` = not rated).

    Equals scikit-learn's ``cohen_kappa_score`` on the same pairs; NaN when chance agreement
    is 1 (both gave one and the same class throughout) or no item was rated by both.
    """
    both = (a >= 0) & (b >= 0)
    x, y = a[both].astype(np.int64), b[both].astype(np.int64)
    if not x.size:
        return float("nan")
    k = int(max(x.max(), y.max())) + 1 if k is None else k
    confusion = np.bincount(x * k + y, minlength=k * k).reshape(k, k).astype(np.float64)
    return _kappa(confusion)


def pairwise_cohen(ratings: npt.NDArray[np.integer]) -> dict[tuple[int, int], float]:
    """Cohen's kappa for every pair of annotator columns ``(i, j)``, ``i < j``."""
    return _Pairs(ratings).cohen()


class _Pairs:
    """One count per annotator pair, shared by every measure.

    Missing ratings become the extra code ``k`` once, so a pair's items need no mask. For each
    pair ``a < b`` one integer ``bincount`` counts the items by ``(ratings of the item m_u,
    class_a, class_b)``. Summed over ``m_u`` that is Cohen's confusion matrix; weighted by
    ``1 / (m_u - 1)`` and symmetrised it is Krippendorff's coincidence matrix (whose marginals
    are Fleiss' class totals: every rating of an item rated at least twice, once); its diagonal
    weighted by ``1 / (m_u (m_u - 1))`` sums Fleiss' per-item agreement. Integer counts first,
    floating point only on the small ``(m + 1, k, k)`` tables.
    """

    def __init__(self, ratings: npt.NDArray[np.integer]) -> None:
        r = np.asarray(ratings)
        self.k = k = n_classes(r)
        n, m = r.shape
        side = k + 1  # codes 0 .. k-1, and k for "not rated"
        item_base: npt.NDArray[np.intp] | int
        if bool((r < 0).any()):
            columns = [np.where(r[:, j] >= 0, r[:, j], k).astype(np.intp) for j in range(m)]
            per_item = np.zeros(n, dtype=np.intp)
            for column in columns:
                per_item += column < k
            item_base = per_item * side
        else:  # every item rated by all: no masks, one level
            columns = [np.ascontiguousarray(r[:, j], dtype=np.intp) for j in range(m)]
            per_item = np.full(n, m, dtype=np.intp)
            item_base = m * side
        self.per_item = per_item
        levels = m + 1
        self.confusion: dict[tuple[int, int], FloatArray] = {}
        self.coincidence = np.zeros((k, k))
        self.agreement_sum = 0.0
        for a in range(m):
            first = (item_base + columns[a]) * side
            for b in range(a + 1, m):
                counts = np.bincount(first + columns[b], minlength=levels * side * side)
                table = counts.reshape(levels, side, side)[:, :k, :k].astype(np.float64)
                self.confusion[(a, b)] = table.sum(axis=0)
                for level in range(2, levels):
                    pair_counts = table[level]
                    self.coincidence += (pair_counts + pair_counts.T) / (level - 1)
                    self.agreement_sum += float(np.trace(pair_counts)) / (level * (level - 1))
        self.totals = self.coincidence.sum(axis=0)

    def cohen(self) -> dict[tuple[int, int], float]:
        return {pair: _kappa(c) for pair, c in self.confusion.items()}

    def fleiss(self) -> float:
        multi = int(np.count_nonzero(self.per_item >= 2))
        if not multi:
            return float("nan")
        # The mean over items rated at least twice of (agreeing pairs / all pairs of the item).
        p_bar = 2.0 * self.agreement_sum / multi
        shares = self.totals / self.totals.sum()
        p_e = float(shares @ shares)
        if p_e == 1.0:
            return float("nan")
        return (p_bar - p_e) / (1.0 - p_e)

    def alpha(self, metric: Metric) -> float:
        return _alpha(self.coincidence, metric)


def _kappa(confusion: FloatArray) -> float:
    total = confusion.sum()
    if total == 0:
        return float("nan")
    observed = np.trace(confusion) / total
    expected = float(confusion.sum(axis=1) @ confusion.sum(axis=0)) / (total * total)
    if expected == 1.0:
        return float("nan")
    return float((observed - expected) / (1.0 - expected))


def category_counts(ratings: npt.NDArray[np.integer], k: int | None = None) -> IntArray:
    """``counts[u, c]``: how many annotators put item ``u`` in class ``c``."""
    k = n_classes(ratings) if k is None else k
    n, m = ratings.shape
    base = np.arange(n, dtype=np.int64) * (k + 1)
    counts = np.zeros(n * (k + 1), dtype=np.int64)
    for j in range(m):
        # -1 (not rated) lands in an extra last column, which is dropped.
        column = np.where(ratings[:, j] >= 0, ratings[:, j], k)
        counts += np.bincount(base + column, minlength=n * (k + 1))
    return counts.reshape(n, k + 1)[:, :k]


def fleiss_kappa(ratings: npt.NDArray[np.integer]) -> float:
    """Fleiss' kappa over the items rated at least twice.

    Items may have different numbers of ratings: each item's agreement is computed on its own
    ratings (the usual generalisation); with equal numbers this is Fleiss (1971) exactly.
    """
    return _Pairs(ratings).fleiss()


def coincidences(ratings: npt.NDArray[np.integer]) -> FloatArray:
    """Krippendorff's coincidence matrix ``o[c, k]`` over items with at least two ratings."""
    return _Pairs(ratings).coincidence


def _distances(totals: FloatArray, metric: Metric) -> FloatArray:
    k = totals.size
    if metric == "nominal":
        return 1.0 - np.eye(k)
    # Ordinal: (sum of the marginals from c to k, minus half of the two ends) squared.
    cumulative = np.concatenate([[0.0], np.cumsum(totals)])
    c = np.arange(k)
    low, high = np.minimum.outer(c, c), np.maximum.outer(c, c)
    between = cumulative[high + 1] - cumulative[low] - (totals[low] + totals[high]) / 2.0
    distance: FloatArray = between * between
    return distance


def _alpha(matrix: FloatArray, metric: Metric) -> float:
    totals = matrix.sum(axis=0)
    n = float(totals.sum())
    if n <= 1:
        return float("nan")
    delta = _distances(totals, metric)
    observed = float((matrix * delta).sum())
    expected = float(totals @ delta @ totals) / (n - 1.0)
    if expected == 0.0:
        return float("nan")
    return 1.0 - observed / expected


def krippendorff_alpha(ratings: npt.NDArray[np.integer], *, metric: Metric = "nominal") -> float:
    """Krippendorff's alpha (nominal or ordinal) over items with at least two ratings.

    Equals the ``krippendorff`` package's ``alpha(reliability_data=ratings.T,
    level_of_measurement=metric)`` with ``-1`` as missing.
    """
    return _alpha(_Pairs(ratings).coincidence, metric)


@dataclass(frozen=True, slots=True)
class Measures:
    """Every agreement measure of one ratings matrix, from one pass per annotator pair."""

    cohen: dict[tuple[int, int], float]
    fleiss_kappa: float
    alpha_nominal: float
    alpha_ordinal: float


def measures(ratings: npt.NDArray[np.integer]) -> Measures:
    """Cohen per pair, Fleiss, Krippendorff nominal and ordinal, sharing the pair counts."""
    pairs = _Pairs(ratings)
    return Measures(pairs.cohen(), pairs.fleiss(), pairs.alpha("nominal"), pairs.alpha("ordinal"))


def accuracy_vs_consensus(ratings: npt.NDArray[np.integer]) -> tuple[FloatArray, IntArray]:
    """Each annotator's accuracy against the majority of the OTHER annotators, and on how many
    items it was measured: items the annotator rated on which the others have a clear majority
    (items where the others tie are left out, so a split vote never counts as an error)."""
    k = n_classes(ratings)
    counts = category_counts(ratings, k)
    per_item = counts.sum(axis=1)
    rows = np.arange(ratings.shape[0])
    accuracy = np.full(ratings.shape[1], np.nan)
    support = np.zeros(ratings.shape[1], dtype=np.int64)
    for j in range(ratings.shape[1]):
        own = ratings[:, j]
        rated = own >= 0
        column = np.where(rated, own, 0)
        others = counts.copy()
        others[rows, column] -= rated
        top = others.max(axis=1)
        clear = (others == top[:, None]).sum(axis=1) == 1
        measured = rated & (per_item - rated > 0) & clear
        support[j] = int(measured.sum())
        if support[j]:
            hits = (others.argmax(axis=1) == own) & measured
            accuracy[j] = float(hits.sum() / support[j])
    return accuracy, support


@dataclass(frozen=True, slots=True)
class AgreementReport:
    """Agreement of the annotators of one dataset.

    Attributes:
        items: items rated by at least two annotators (the items agreement is measured on).
        cohen: Cohen's kappa per annotator pair ``"a|b"``.
        accuracy: each annotator's accuracy against the others' majority.
    """

    dataset: str
    annotators: tuple[str, ...]
    classes: tuple[str, ...]
    items: int
    cohen: dict[str, float]
    fleiss_kappa: float
    alpha_nominal: float
    alpha_ordinal: float
    accuracy: dict[str, float]
    support: dict[str, int] = field(default_factory=dict)

    @property
    def mean_accuracy(self) -> float:
        """The mean of the annotators' accuracies vs consensus (the human baseline)."""
        values = [v for v in self.accuracy.values() if not np.isnan(v)]
        return float(np.mean(values)) if values else float("nan")


def agreement_report(
    ratings: npt.NDArray[np.integer],
    *,
    dataset: str,
    annotators: tuple[str, ...],
    classes: tuple[str, ...],
) -> AgreementReport:
    """Every measure of this module on one ratings matrix."""
    multi = (ratings >= 0).sum(axis=1) >= 2
    found = measures(ratings)
    accuracy, support = accuracy_vs_consensus(ratings)
    return AgreementReport(
        dataset=dataset,
        annotators=annotators,
        classes=classes,
        items=int(multi.sum()),
        cohen={f"{annotators[i]}|{annotators[j]}": v for (i, j), v in found.cohen.items()},
        fleiss_kappa=found.fleiss_kappa,
        alpha_nominal=found.alpha_nominal,
        alpha_ordinal=found.alpha_ordinal,
        accuracy={a: float(accuracy[i]) for i, a in enumerate(annotators)},
        support={a: int(support[i]) for i, a in enumerate(annotators)},
    )
