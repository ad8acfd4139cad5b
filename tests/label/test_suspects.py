"""Label-error ranking from out-of-fold probabilities (confident learning)."""

from __future__ import annotations

import numpy as np
import pytest

from flywheel_ml.errors import InvalidInputError
from flywheel_ml.label.suspects import find_suspects, out_of_fold_probabilities, rank_scores


def _noisy(n: int, k: int, noise: float, seed: int = 0):
    from sklearn.datasets import make_classification

    X, y = make_classification(
        n_samples=n,
        n_features=10,
        n_informative=6,
        n_classes=k,
        n_clusters_per_class=1,
        class_sep=2.0,
        random_state=seed,
    )
    rng = np.random.default_rng(seed)
    idx = rng.choice(n, size=int(noise * n), replace=False)
    noisy = y.copy()
    noisy[idx] = (y[idx] + rng.integers(1, k, idx.size)) % k
    return X, y, noisy, set(idx.tolist())


def test_finds_injected_errors_and_estimates_their_number() -> None:
    from sklearn.linear_model import LogisticRegression

    X, _, noisy, wrong = _noisy(3000, 4, 0.1)
    probs = out_of_fold_probabilities(LogisticRegression(max_iter=300), X, noisy)
    found = find_suspects(noisy, probs)
    flagged = set(found.indices.tolist())
    precision = len(flagged & wrong) / len(flagged)
    recall = len(flagged & wrong) / len(wrong)
    assert precision > 0.75 and recall > 0.7
    assert abs(found.estimated_errors - len(wrong)) < 0.3 * len(wrong)
    assert np.all(np.diff(found.scores) >= 0)  # most likely wrong first
    assert (found.suggested != noisy[found.indices]).all()
    # Only items the model does not rank first under their label are listed.
    rows = found.indices
    assert (probs[rows, found.suggested] > probs[rows, noisy[rows]]).all()
    for by in ("self_confidence", "normalized_margin"):
        other = find_suspects(noisy, probs, by=by)  # type: ignore[arg-type]
        assert other.estimated_errors == found.estimated_errors


def test_rankings() -> None:
    probs = np.array([[0.7, 0.3], [0.2, 0.8]])
    labels = np.array([0, 0])
    assert rank_scores(labels, probs, by="self_confidence").tolist() == pytest.approx([0.7, 0.2])
    assert rank_scores(labels, probs, by="normalized_margin").tolist() == pytest.approx([0.4, -0.6])
    assert rank_scores(labels, probs, by="log_ratio").tolist() == pytest.approx(
        [np.log(0.7 / 0.3), np.log(0.2 / 0.8)]
    )


def test_log_ratio_ranks_by_odds_not_by_absolute_margin() -> None:
    # Item 0: a model that spreads its mass, three times as sure of class 1 as of the given
    # class 0. Item 1: a peaked model, 1.5 times as sure of class 1. The odds say item 0 is the
    # likelier error; the margin (0.1 vs 0.2) says item 1.
    probs = np.array([[0.05, 0.15] + [0.1] * 8, [0.4, 0.6] + [0.0] * 8])
    labels = np.array([0, 0])
    odds = rank_scores(labels, probs, by="log_ratio")
    margin = rank_scores(labels, probs, by="normalized_margin")
    assert odds[0] < odds[1] and margin[1] < margin[0]


def test_clean_labels_give_no_suspects() -> None:
    probs = np.eye(3)[[0, 1, 2, 0, 1, 2]] * 0.9 + 0.1 / 3
    found = find_suspects(np.array([0, 1, 2, 0, 1, 2]), probs)
    assert found.estimated_errors == 0 and found.indices.size == 0


def test_shape_mismatch_is_refused() -> None:
    with pytest.raises(InvalidInputError):
        find_suspects(np.array([0, 1]), np.ones((3, 2)) / 2)
    with pytest.raises(InvalidInputError):
        find_suspects(np.array([0, 5]), np.ones((2, 2)) / 2)
