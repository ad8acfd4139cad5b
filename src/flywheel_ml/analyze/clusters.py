"""Failure clusters: DBSCAN over the mistakes, in standardized feature space (or embeddings).

The scaler is fitted on every analysed row, so a cluster's position means "unusual compared with
the data", not "unusual among mistakes". DBSCAN's ``eps`` is read off the k-distance curve of the
mistakes (the distance of each to its ``min_samples``-th neighbour, sorted): its knee, the point
farthest from the straight line between the curve's ends, separates dense groups from the sparse
rest. Mistakes also bunch up wherever the data itself is dense, so a group is kept only when
its region (every analysed row within ``eps`` of a member) has at least ``min_lift`` times the
overall error rate: a failure cluster is a place where the model is worse, not just a crowd.
When nothing clusters, the analysis says why instead of returning an empty list.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from flywheel_ml.analyze.entities import ClusterAnalysis, FailureCluster, FeatureShift
from flywheel_ml.analyze.scoring import Scored
from flywheel_ml.errors import InvalidInputError


def knee_eps(points: npt.NDArray[np.float64], *, k: int) -> float:
    """The knee of the sorted k-distance curve of ``points`` (the distance to the k-th neighbour).

    Returns the median k-distance when the curve has no knee (fewer than three points or a
    straight line).
    """
    from sklearn.neighbors import NearestNeighbors

    neighbours = NearestNeighbors(n_neighbors=min(k + 1, len(points))).fit(points)
    distances, _ = neighbours.kneighbors(points)
    curve = np.sort(distances[:, -1])
    if len(curve) < 3 or curve[-1] == curve[0]:
        return float(np.median(curve)) or 1e-9
    x = np.linspace(0.0, 1.0, len(curve))
    y = (curve - curve[0]) / (curve[-1] - curve[0])
    # Distance of each point below the chord from (0, 0) to (1, 1); the knee is the largest.
    gap = x - y
    knee = int(np.argmax(gap))
    return float(curve[knee]) if curve[knee] > 0 else float(np.median(curve)) or 1e-9


def cluster_space(
    scored: Scored, *, embedding: str | None = None
) -> tuple[npt.NDArray[np.float64], list[str], str]:
    """The rows as points to cluster, the names of the point's coordinates, and a description.

    With ``embedding`` (a column whose values are equal-length vectors) the vectors are used;
    otherwise the model's input features, standardized over all analysed rows.

    Raises:
        InvalidInputError: the embedding column is missing or holds unequal or non-numeric
            vectors.
    """
    from sklearn.preprocessing import StandardScaler

    if embedding is not None:
        if embedding not in scored.frame.columns:
            raise InvalidInputError(
                f"{scored.dataset.ref} has no column {embedding!r}",
                hint="name a column holding one vector per item (--embedding COLUMN)",
            )
        try:
            vectors = np.asarray([np.asarray(v, dtype=np.float64)
                                  for v in scored.frame[embedding]], dtype=np.float64)  # fmt: skip
        except (TypeError, ValueError):
            raise InvalidInputError(
                f"column {embedding!r} of {scored.dataset.ref} does not hold numeric vectors "
                "of one length",
                hint="store one list of floats per item",
            ) from None
        if vectors.ndim != 2:
            raise InvalidInputError(
                f"column {embedding!r} does not hold vectors", hint="one list of floats per item"
            )
        names = [f"{embedding}[{i}]" for i in range(vectors.shape[1])]
        return vectors, names, f"embedding column {embedding}"
    names = list(scored.model.feature_names)
    raw = scored.frame[names].to_numpy(dtype=np.float64)
    return StandardScaler().fit_transform(raw), names, "standardized features"


def find_failure_clusters(
    scored: Scored,
    *,
    min_samples: int = 4,
    eps: float | None = None,
    embedding: str | None = None,
    exemplars: int = 5,
    min_lift: float = 2.0,
) -> ClusterAnalysis:
    """Cluster the misclassified rows of ``scored`` with DBSCAN.

    Args:
        min_samples: DBSCAN's core-point count, also the k of the k-distance curve.
        eps: the neighbourhood radius; None picks it at the knee of the k-distance curve.
        embedding: cluster this column's vectors instead of the standardized features.
        exemplars: how many item ids to name per cluster (nearest its centre first).
        min_lift: how many times the overall error rate a cluster's region must reach.
    """
    from sklearn.cluster import DBSCAN

    points, names, space = cluster_space(scored, embedding=embedding)
    wrong = np.flatnonzero(~scored.correct)
    base = {
        "model": scored.model.ref,
        "dataset": scored.dataset.ref,
        "split": scored.split,
        "errors": len(wrong),
        "error_rate": len(wrong) / max(len(points), 1),
        "space": space,
        "min_samples": min_samples,
    }
    if len(wrong) < 2 * min_samples:
        return ClusterAnalysis(
            **base, eps=None, noise=len(wrong), clusters=(),  # type: ignore[arg-type]
            explanation=(
                f"only {len(wrong)} mistake(s) on {scored.split}: too few to cluster (at least "
                f"{2 * min_samples} needed with min_samples={min_samples}); read them one by "
                "one in the list of confident mistakes"
            ),
        )  # fmt: skip
    errors = points[wrong]
    chosen = eps if eps is not None else knee_eps(errors, k=min_samples)
    labels = DBSCAN(eps=chosen, min_samples=min_samples).fit_predict(errors)
    labels, crowds = _keep_failure_regions(
        points, scored.correct, wrong, labels, eps=chosen, min_lift=min_lift
    )
    raw = points if embedding is not None else scored.frame[names].to_numpy(dtype=np.float64)
    clusters = _describe(scored, points, raw, wrong, labels, names, exemplars, chosen)
    noise = int((labels == -1).sum())
    explanation = ""
    if not clusters:
        how = f"DBSCAN (eps={chosen:.3g} at the k-distance knee, min_samples={min_samples})"
        if crowds:
            explanation = (
                f"{how} grouped mistakes only where the data itself is dense: in those regions "
                f"the error rate is below {min_lift:g}× the overall rate — the mistakes are "
                "spread out, not concentrated; look at the confusions and slices instead"
            )
        else:
            explanation = (
                f"{how} left all {len(wrong)} mistakes as noise: they are spread out, not "
                "grouped — no single kind of input explains them; look at the confusions and "
                "slices instead"
            )
    return ClusterAnalysis(
        **base, eps=float(chosen), noise=noise, clusters=tuple(clusters),  # type: ignore[arg-type]
        explanation=explanation,
    )  # fmt: skip


def _region(
    points: npt.NDArray[np.float64], members: npt.NDArray[np.float64], eps: float
) -> npt.NDArray[np.intp]:
    """Indices of every point within ``eps`` of some member."""
    from sklearn.neighbors import NearestNeighbors

    neighbours = NearestNeighbors(radius=eps).fit(points)
    found = neighbours.radius_neighbors(members, return_distance=False)
    return np.unique(np.concatenate(found)) if len(found) else np.empty(0, dtype=np.intp)


def _keep_failure_regions(
    points: npt.NDArray[np.float64],
    correct: npt.NDArray[np.bool_],
    wrong: npt.NDArray[np.intp],
    labels: npt.NDArray[np.intp],
    *,
    eps: float,
    min_lift: float,
) -> tuple[npt.NDArray[np.intp], int]:
    """DBSCAN labels with groups whose region is not error-dense turned into noise; and how
    many groups were dropped that way."""
    overall = float((~correct).mean())
    kept = labels.copy()
    dropped = 0
    for cluster in sorted(set(labels.tolist()) - {-1}):
        region = _region(points, points[wrong[labels == cluster]], eps)
        rate = float((~correct[region]).mean()) if len(region) else 0.0
        if rate < min_lift * overall:
            kept[labels == cluster] = -1
            dropped += 1
    return kept, dropped


def _describe(
    scored: Scored,
    points: npt.NDArray[np.float64],
    raw: npt.NDArray[np.float64],
    wrong: npt.NDArray[np.intp],
    labels: npt.NDArray[np.intp],
    names: Sequence[str],
    exemplars: int,
    eps: float,
) -> list[FailureCluster]:
    # Shifts are reported in the data's own units (a pixel's ink), ranked in std units.
    overall_mean = raw.mean(axis=0)
    overall_std = raw.std(axis=0)
    overall_std[overall_std == 0] = 1.0
    found = []
    ids = [c for c in sorted(set(labels.tolist())) if c != -1]
    for cluster in ids:
        rows = wrong[labels == cluster]
        members = points[rows]
        centre = members.mean(axis=0)
        order = np.argsort(np.linalg.norm(members - centre, axis=1), kind="stable")
        raw_centre = raw[rows].mean(axis=0)
        z = (raw_centre - overall_mean) / overall_std
        top = np.argsort(-np.abs(z), kind="stable")[:3]
        pairs = Counter(zip(scored.y_true[rows].tolist(), scored.y_pred[rows].tolist(),
                            strict=True))  # fmt: skip
        region = _region(points, members, eps)
        found.append(
            FailureCluster(
                id=0,
                size=len(rows),
                share=len(rows) / len(wrong),
                error_rate=float((~scored.correct[region]).mean()) if len(region) else 0.0,
                exemplars=tuple(str(scored.ids[rows[i]]) for i in order[:exemplars]),
                items=tuple(str(scored.ids[r]) for r in rows),
                confusions=tuple((t, p, n) for (t, p), n in pairs.most_common(5)),
                features=tuple(
                    FeatureShift(
                        names[i], float(raw_centre[i]), float(overall_mean[i]), float(z[i])
                    )
                    for i in top
                ),
            )
        )
    found.sort(key=lambda c: -c.size)
    return [
        FailureCluster(
            i + 1, c.size, c.share, c.error_rate, c.exemplars, c.items, c.confusions, c.features
        )
        for i, c in enumerate(found)
    ]
