"""Majority vote and Dawid–Skene: abstentions, probabilities, recovered source accuracies."""

from __future__ import annotations

import numpy as np
import pytest

from flywheel_ml.label.aggregation import dawid_skene, majority_vote


def _votes(n: int, accuracy: np.ndarray, k: int, *, abstain: float, seed: int = 0):
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, k, n)
    m = accuracy.size
    wrong = (truth[:, None] + rng.integers(1, k, (n, m))) % k
    votes = np.where(rng.random((n, m)) < accuracy, truth[:, None], wrong)
    votes[rng.random((n, m)) < abstain] = -1
    return truth, votes


def test_majority_vote_shares_and_abstentions() -> None:
    votes = np.array([[0, 0, 1], [2, -1, -1], [-1, -1, -1], [1, 0, -1]])
    result = majority_vote(votes, k=3)
    assert result.probs[0].tolist() == pytest.approx([2 / 3, 1 / 3, 0])
    assert result.label.tolist() == [0, 2, -1, 0]
    assert result.labelled.tolist() == [True, True, False, True]
    assert result.coverage.tolist() == pytest.approx([0.75, 0.5, 0.25])


def test_dawid_skene_recovers_source_accuracies() -> None:
    accuracy = np.array([0.95, 0.9, 0.8, 0.7, 0.6, 0.55])
    truth, votes = _votes(20_000, accuracy, 4, abstain=0.3)
    result = dawid_skene(votes, k=4)
    assert np.abs(result.accuracy - accuracy).max() < 0.02
    assert (result.label == truth).mean() > (majority_vote(votes, k=4).label == truth).mean()
    assert np.allclose(result.probs[result.labelled].sum(axis=1), 1.0)


def test_dawid_skene_keeps_items_nobody_labelled_empty() -> None:
    votes = np.array([[0, 0], [1, 1], [-1, -1], [0, 1]])
    result = dawid_skene(votes, k=2)
    assert result.label[2] == -1
    assert result.probs[2].sum() == 0
    assert result.iterations >= 1
