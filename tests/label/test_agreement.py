"""Agreement measures equal the reference implementations (scikit-learn, krippendorff)."""

from __future__ import annotations

import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from flywheel_ml.label.agreement import (
    accuracy_vs_consensus,
    agreement_report,
    cohen_kappa,
    fleiss_kappa,
    krippendorff_alpha,
    pairwise_cohen,
)


def _ratings(seed: int, n: int = 500, m: int = 4, k: int = 5, missing: float = 0.15):
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, k, n)
    accuracy = rng.uniform(0.5, 0.95, m)
    r = np.stack(
        [np.where(rng.random(n) < accuracy[j], truth, rng.integers(0, k, n)) for j in range(m)],
        axis=1,
    )
    r[rng.random((n, m)) < missing] = -1
    return r


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_cohen_equals_sklearn_on_every_pair(seed: int) -> None:
    r = _ratings(seed)
    for (i, j), kappa in pairwise_cohen(r).items():
        both = (r[:, i] >= 0) & (r[:, j] >= 0)
        assert kappa == pytest.approx(cohen_kappa_score(r[both, i], r[both, j]), abs=1e-9)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("metric", ["nominal", "ordinal"])
def test_krippendorff_equals_the_package(seed: int, metric: str) -> None:
    r = _ratings(seed)
    reference = r.T.astype(float)
    reference[reference < 0] = np.nan
    expected = krippendorff.alpha(reliability_data=reference, level_of_measurement=metric)
    assert krippendorff_alpha(r, metric=metric) == pytest.approx(expected, abs=1e-9)  # type: ignore[arg-type]


def test_krippendorff_with_unused_middle_category_matches() -> None:
    r = np.array([[0, 0, 3], [3, 3, 3], [0, 3, -1], [4, 4, 4], [0, 4, 0]])
    reference = r.T.astype(float)
    reference[reference < 0] = np.nan
    for metric in ("nominal", "ordinal"):
        expected = krippendorff.alpha(
            reliability_data=reference, level_of_measurement=metric, value_domain=[0, 1, 2, 3, 4]
        )
        assert krippendorff_alpha(r, metric=metric) == pytest.approx(expected, abs=1e-9)  # type: ignore[arg-type]


def test_fleiss_matches_the_textbook_example() -> None:
    # Fleiss (1971) as worked on Wikipedia: 10 subjects, 14 raters, 5 categories -> 0.210.
    table = [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
    ratings = np.array([np.repeat(np.arange(5), row) for row in table])
    assert fleiss_kappa(ratings) == pytest.approx(0.20993, abs=1e-5)


def test_perfect_and_degenerate_agreement() -> None:
    same = np.array([[0, 0], [1, 1], [2, 2]])
    assert cohen_kappa(same[:, 0], same[:, 1]) == pytest.approx(1.0)
    assert krippendorff_alpha(same) == pytest.approx(1.0)
    constant = np.array([[1, 1], [1, 1]])
    assert np.isnan(cohen_kappa(constant[:, 0], constant[:, 1]))
    assert np.isnan(cohen_kappa(np.array([0, -1]), np.array([-1, 1])))


def test_accuracy_vs_consensus_uses_the_others_clear_majority() -> None:
    r = np.array([[0, 0, 1], [1, 1, 1], [2, 2, 0], [0, 0, -1]])
    accuracy, support = accuracy_vs_consensus(r)
    # Annotator 0: items 0 and 2 have the others split (0/1, 2/0) and are left out.
    assert support.tolist() == [2, 2, 3]
    assert accuracy[0] == pytest.approx(1.0)
    assert accuracy[2] == pytest.approx(1 / 3)


def test_report_names_pairs_and_counts_items() -> None:
    r = _ratings(5, m=3)
    report = agreement_report(r, dataset="d", annotators=("a", "b", "c"), classes=tuple("vwxyz"))
    assert set(report.cohen) == {"a|b", "a|c", "b|c"}
    assert report.items == int(((r >= 0).sum(axis=1) >= 2).sum())
    assert 0 < report.mean_accuracy <= 1
