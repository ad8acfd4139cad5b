"""Permutation importance: the accuracy a model loses when one feature's values are shuffled.

scikit-learn's ``permutation_importance`` does the measuring. A feature "helps" when its mean
loss exceeds ``min_gain`` by two standard errors over the repeats; the others are proposed for
removal (a feature that never mattered on held-out data is a maintenance cost and a leak risk).
"""

from __future__ import annotations

import math

from flywheel_ml.analyze.entities import FeatureImportance, FeatureReport
from flywheel_ml.analyze.scoring import Scored


def feature_importance(
    scored: Scored, *, repeats: int = 5, min_gain: float = 0.0, seed: int = 0
) -> FeatureReport:
    """Permutation importance of each input feature of ``scored.model`` on ``scored``'s rows."""
    from sklearn.inspection import permutation_importance

    names = list(scored.model.feature_names)
    estimator = scored.model.estimator
    found = permutation_importance(
        estimator, scored.X, scored.y, scoring="accuracy", n_repeats=repeats, random_state=seed
    )
    margin = 2.0 / math.sqrt(repeats)
    rows = [
        FeatureImportance(name, float(mean), float(std), bool(mean - margin * std > min_gain))
        for name, mean, std in zip(
            names, found.importances_mean, found.importances_std, strict=True
        )
    ]
    rows.sort(key=lambda r: (-r.mean, r.feature))
    return FeatureReport(
        model=scored.model.ref,
        dataset=scored.dataset.ref,
        split=scored.split,
        rows=scored.rows,
        repeats=repeats,
        features=tuple(rows),
        remove=tuple(r.feature for r in rows if not r.helps),
    )
