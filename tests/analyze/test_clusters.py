"""Failure clusters: constructed mistakes in known groups are recovered by DBSCAN."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import pytest

from flywheel_ml.analyze.clusters import find_failure_clusters, knee_eps
from flywheel_ml.analyze.entities import LoadedModel
from flywheel_ml.analyze.scoring import score_frame
from flywheel_ml.core.digests import Digest
from flywheel_ml.data.entities import DatasetVersion
from flywheel_ml.errors import InvalidInputError


class RegionModel:
    """Right everywhere except inside the boxes it is given (there it answers 'wrong')."""

    def __init__(self, boxes: list[tuple[float, float, float, float]]) -> None:
        self.boxes = boxes

    def predict(self, X: Any) -> Any:
        X = np.asarray(X, dtype=float)
        answer = np.where(X[:, 0] + X[:, 1] > 10, "high", "low").astype(object)
        for x0, x1, y0, y1 in self.boxes:
            inside = (X[:, 0] >= x0) & (X[:, 0] <= x1) & (X[:, 1] >= y0) & (X[:, 1] <= y1)
            answer[inside] = "wrong"
        return answer.astype(str)


def _version(rows: int) -> DatasetVersion:
    facts = {"id_column": "item", "label": "y", "kind": "table"}
    return DatasetVersion(Digest("blake3:" + "0" * 64), "toy", 1, None, "", "t",
                          datetime.now(UTC), rows, 0, facts)  # fmt: skip


def _toy(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    background = rng.uniform(0, 10, size=(600, 2))
    blob_a = rng.normal([2.0, 2.0], 0.15, size=(25, 2))
    blob_b = rng.normal([8.0, 7.0], 0.15, size=(18, 2))
    points = np.vstack([background, blob_a, blob_b])
    frame = pd.DataFrame(points, columns=["a", "b"])
    frame["y"] = np.where(frame["a"] + frame["b"] > 10, "high", "low")
    frame["noise"] = rng.normal(size=len(frame))  # a column the model does not read
    frame["item"] = [f"i{i:04d}" for i in range(len(frame))]
    frame["group"] = ["bg"] * 600 + ["A"] * 25 + ["B"] * 18
    return frame


def test_known_failure_clusters_are_recovered() -> None:
    frame = _toy()
    model = RegionModel([(1.4, 2.6, 1.4, 2.6), (7.4, 8.6, 6.4, 7.6)])
    scored = score_frame(LoadedModel("toy@v1", model, ("a", "b")), _version(len(frame)),
                         "val", frame, "y")  # fmt: skip
    found = find_failure_clusters(scored, min_samples=4)

    assert found.errors == int((~scored.correct).sum())
    assert len(found.clusters) == 2
    truth = dict(zip(frame["item"], frame["group"], strict=True))
    by_size = sorted(found.clusters, key=lambda c: -c.size)
    for cluster, group in zip(by_size, ["A", "B"], strict=True):
        members = [truth[i] for i in cluster.items]
        # Nearly all members come from one planted group, and nearly all of it is found.
        assert members.count(group) / len(members) >= 0.9
        assert members.count(group) >= 0.8 * (25 if group == "A" else 18)
        assert set(cluster.exemplars) <= set(cluster.items)
        assert cluster.confusions[0][1] == "wrong"
        # Its region is far more error-dense than the data as a whole.
        assert cluster.error_rate > 2 * found.error_rate
    # Cluster A sits at a≈2: the feature shift says so in the data's own units.
    shift = {f.feature: f for f in by_size[0].features}
    assert abs(shift["a"].cluster_mean - 2.0) < 0.3
    assert found.eps is not None and found.eps > 0
    assert abs(sum(c.share for c in found.clusters) + found.noise / found.errors - 1.0) < 1e-9
    table = found.frame()
    assert list(table["size"]) == [c.size for c in found.clusters]


def test_scattered_mistakes_give_an_explanation_not_clusters() -> None:
    rng = np.random.default_rng(1)
    frame = _toy()
    wrong_rows = rng.choice(600, size=30, replace=False)

    class Scattered:
        def predict(self, X: Any) -> Any:
            X = np.asarray(X, dtype=float)
            answer = np.where(X[:, 0] + X[:, 1] > 10, "high", "low").astype(object)
            answer[wrong_rows] = "wrong"
            return answer.astype(str)

    scored = score_frame(LoadedModel("toy@v2", Scattered(), ("a", "b")), _version(len(frame)),
                         "val", frame, "y")  # fmt: skip
    found = find_failure_clusters(scored, min_samples=6)
    assert found.clusters == ()
    assert "spread out" in found.explanation


def test_too_few_mistakes_are_explained() -> None:
    frame = _toy()
    model = RegionModel([(1.9, 2.0, 1.9, 2.0)])
    scored = score_frame(LoadedModel("toy@v3", model, ("a", "b")), _version(len(frame)),
                         "val", frame, "y")  # fmt: skip
    found = find_failure_clusters(scored, min_samples=4)
    assert found.clusters == () and found.eps is None
    assert "too few to cluster" in found.explanation


def test_embedding_column_is_clustered_instead_of_features() -> None:
    frame = _toy()
    frame["vec"] = [np.array([a, b, 0.0]) for a, b in zip(frame["a"], frame["b"], strict=True)]
    model = RegionModel([(1.4, 2.6, 1.4, 2.6), (7.4, 8.6, 6.4, 7.6)])
    scored = score_frame(LoadedModel("toy@v1", model, ("a", "b")), _version(len(frame)),
                         "val", frame, "y")  # fmt: skip
    found = find_failure_clusters(scored, embedding="vec")
    assert found.space == "embedding column vec"
    assert len(found.clusters) == 2
    with pytest.raises(InvalidInputError, match="no column"):
        find_failure_clusters(scored, embedding="missing")


def test_knee_separates_dense_from_sparse() -> None:
    rng = np.random.default_rng(2)
    dense = rng.normal(0, 0.05, size=(50, 2))
    sparse = rng.uniform(-20, 20, size=(10, 2))
    eps = knee_eps(np.vstack([dense, sparse]), k=4)
    assert 0.01 < eps < 2.0
