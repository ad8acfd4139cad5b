"""The baselines every project should beat (the floor) and the human level (the ceiling).

Simple baselines are fixed-seed scikit-learn models: always the majority class, random labels
in class proportions, logistic regression, gradient boosting, and TF-IDF + logistic regression
when the data is one text column. Regression gets the mean, ridge regression and gradient
boosting.
"""

from __future__ import annotations

from typing import Any

BASELINE_SEED = 0


def simple_baselines(*, classification: bool, text: bool) -> list[tuple[str, Any]]:
    """``(name, unfitted estimator)`` for each simple baseline, floor first."""
    from sklearn.dummy import DummyClassifier, DummyRegressor
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if not classification:
        return [
            ("mean", DummyRegressor(strategy="mean")),
            ("ridge", make_pipeline(StandardScaler(), Ridge(random_state=BASELINE_SEED))),
            (
                "gradient-boosting",
                HistGradientBoostingRegressor(
                    max_iter=50, max_leaf_nodes=15, random_state=BASELINE_SEED
                ),
            ),
        ]
    floor: list[tuple[str, Any]] = [
        ("majority", DummyClassifier(strategy="most_frequent")),
        ("stratified", DummyClassifier(strategy="stratified", random_state=BASELINE_SEED)),
    ]
    if text:
        return [
            *floor,
            (
                "tfidf-logistic-regression",
                make_pipeline(
                    TfidfVectorizer(min_df=1),
                    LogisticRegression(max_iter=1000, random_state=BASELINE_SEED),
                ),
            ),
        ]
    return [
        *floor,
        (
            "logistic-regression",
            make_pipeline(
                StandardScaler(), LogisticRegression(max_iter=1000, random_state=BASELINE_SEED)
            ),
        ),
        (
            "gradient-boosting",
            HistGradientBoostingClassifier(
                max_iter=50, max_leaf_nodes=15, random_state=BASELINE_SEED
            ),
        ),
    ]
