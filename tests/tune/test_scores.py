"""The metric a search optimises: the accuracy fast path agrees with scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score

from flywheel_ml.tune.training import score


@pytest.mark.parametrize(
    ("truth", "predicted"),
    [
        (np.array([0, 1, 2, 2, 1]), np.array([0, 2, 2, 2, 0])),
        (np.array(["cat", "dog", "dog"]), np.array(["cat", "cat", "dog"])),
        (np.array([True, False, True, True]), np.array([True, True, True, False])),
        (np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 2.0])),  # scikit-learn's own path
        ([0, 1, 1], [0, 1, 0]),  # lists
    ],
)
def test_accuracy_equals_scikit_learns(truth: object, predicted: object) -> None:
    assert score("accuracy", truth, predicted) == pytest.approx(
        accuracy_score(truth, predicted), abs=0
    )


def test_accuracy_of_continuous_predictions_is_refused_as_scikit_learn_does() -> None:
    with pytest.raises(ValueError, match="continuous"):
        score("accuracy", np.array([0, 1, 1]), np.array([0.2, 0.9, 0.4]))
