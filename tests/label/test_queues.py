"""Scores of the uncertainty strategies, k-center diversity and assignments with overlap."""

from __future__ import annotations

import numpy as np
import pytest

from flywheel_ml.errors import InvalidInputError
from flywheel_ml.label.queues import assign, k_center, uncertainty_scores

PROBS = np.array([[0.9, 0.05, 0.05], [0.4, 0.35, 0.25], [0.5, 0.5, 0.0]])


def test_uncertainty_margin_entropy_order_items() -> None:
    assert uncertainty_scores(PROBS, "uncertainty").tolist() == pytest.approx([0.1, 0.6, 0.5])
    assert uncertainty_scores(PROBS, "margin").tolist() == pytest.approx([0.15, 0.95, 1.0])
    entropy = uncertainty_scores(PROBS, "entropy")
    assert entropy.argmax() == 1 and entropy.argmin() == 0
    with pytest.raises(InvalidInputError):
        uncertainty_scores(PROBS, "nope")


def test_k_center_spreads_over_clusters() -> None:
    rng = np.random.default_rng(0)
    centers = np.array([[0, 0], [10, 0], [0, 10], [10, 10]], dtype=float)
    points = np.vstack([c + rng.normal(0, 0.1, (50, 2)) for c in centers])
    chosen = k_center(points, 4)
    assert len(set((chosen // 50).tolist())) == 4


def test_assign_overlap_goes_to_everyone_and_the_rest_round_robin() -> None:
    who = assign(10, ["a", "b"], overlap=0.2, seed=1)
    shared = [w for w in who if len(w) == 2]
    single = [w[0] for w in who if len(w) == 1]
    assert len(shared) == 2
    assert single.count("a") == single.count("b") == 4
    with pytest.raises(InvalidInputError):
        assign(3, [], overlap=0.0)
    with pytest.raises(InvalidInputError):
        assign(3, ["a"], overlap=1.5)
