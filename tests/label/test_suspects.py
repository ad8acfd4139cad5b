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


def _noise_rate_count_by_hand(labels: np.ndarray, probs: np.ndarray, joint: np.ndarray) -> int:
    """Prune by noise rate, written the slow and obvious way: per off-diagonal cell, sort the
    items labelled i by p_j - p_i and take the round(joint[i, j]) largest (with ties at the
    cut); then keep those whose given label the model does not rank first."""
    n, k = probs.shape
    chosen = np.zeros(n, dtype=bool)
    given = probs[np.arange(n), labels]
    for i in range(k):
        members = np.flatnonzero(labels == i)
        for j in range(k):
            want = round(float(joint[i, j]))
            if i == j or want <= 0 or members.size == 0:
                continue
            margins = probs[members, j] - given[members]
            cut = np.sort(margins)[::-1][min(want, members.size) - 1]
            chosen[members[margins >= cut]] = True
    others = probs.copy()
    others[np.arange(n), labels] = -np.inf
    return int((chosen & (others.max(axis=1) > given)).sum())


@pytest.mark.parametrize("seed", range(40))
def test_the_count_is_prune_by_noise_rate(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, k = int(rng.integers(5, 400)), int(rng.integers(2, 7))
    probs = rng.dirichlet(np.full(k, rng.uniform(0.3, 3.0)), size=n)
    if seed % 4 == 0:
        probs = np.round(probs, 1) + 1e-3  # many ties
        probs /= probs.sum(axis=1, keepdims=True)
    labels = rng.integers(0, k, size=n)
    found = find_suspects(labels, probs)
    assert found.estimated_errors == _noise_rate_count_by_hand(labels, probs, found.joint)
    assert found.indices.size == found.estimated_errors


def test_large_inputs_split_over_threads_give_the_same_list() -> None:
    from flywheel_ml.label import suspects

    rng = np.random.default_rng(3)
    n, k = 300_000, 5  # over the size from which the passes run on several threads
    truth = rng.integers(0, k, size=n)
    alpha = np.ones((n, k))
    alpha[np.arange(n), truth] += 4.0
    probs = rng.standard_gamma(alpha)
    probs /= probs.sum(axis=1, keepdims=True)
    labels = truth.copy()
    flip = rng.random(n) < 0.15
    labels[flip] = (truth[flip] + rng.integers(1, k, size=int(flip.sum()))) % k
    threaded = find_suspects(labels, probs)
    original = suspects._PARALLEL_ROWS
    suspects._PARALLEL_ROWS = n + 1
    try:
        serial = find_suspects(labels, probs)
    finally:
        suspects._PARALLEL_ROWS = original
    assert threaded.estimated_errors == serial.estimated_errors
    assert np.array_equal(threaded.indices, serial.indices)
    assert np.array_equal(threaded.joint, serial.joint)
