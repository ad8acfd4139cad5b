"""Where a classifier is wrong: confusion matrix, per-class metrics, confident mistakes,
calibration. All metrics come from scikit-learn."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from flywheel_ml.analyze.entities import (
    CalibrationBin,
    ClassMetrics,
    ErrorAnalysis,
    Mistake,
    SliceResult,
)
from flywheel_ml.analyze.scoring import Scored
from flywheel_ml.analyze.slices import _natural


def analyze_errors(
    scored: Scored,
    *,
    slices: Sequence[SliceResult] = (),
    mistakes: int = 10,
    bins: int = 10,
) -> ErrorAnalysis:
    """The error analysis of ``scored``: confusion, per-class metrics, the ``mistakes`` most
    confident mistakes, a ``bins``-bin reliability diagram and the given slices."""
    from sklearn.metrics import (
        accuracy_score,
        balanced_accuracy_score,
        confusion_matrix,
        f1_score,
        precision_recall_fscore_support,
    )

    y_true, y_pred = scored.y_true, scored.y_pred
    labels = sorted(set(y_true.tolist()) | set(y_pred.tolist()), key=_natural)
    matrix = confusion_matrix(y_true, y_pred, labels=labels)
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    per_class = tuple(
        ClassMetrics(label, float(p), float(r), float(f), int(s))
        for label, p, r, f, s in zip(labels, precision, recall, f1, support, strict=True)
    )
    off = matrix.copy()
    np.fill_diagonal(off, 0)
    pairs = [(labels[i], labels[j], int(off[i, j])) for i, j in zip(*np.nonzero(off), strict=True)]
    pairs.sort(key=lambda p: (-p[2], _natural(p[0]), _natural(p[1])))
    calibration, ece = _calibration(scored, bins)
    return ErrorAnalysis(
        model=scored.model.ref,
        dataset=scored.dataset.ref,
        split=scored.split,
        rows=scored.rows,
        errors=int((~scored.correct).sum()),
        accuracy=float(accuracy_score(y_true, y_pred)),
        balanced_accuracy=float(balanced_accuracy_score(y_true, y_pred)),
        macro_f1=float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
        labels=tuple(labels),
        confusion=tuple(tuple(int(v) for v in row) for row in matrix),
        per_class=per_class,
        top_confusions=tuple(pairs[:10]),
        confident_mistakes=_confident_mistakes(scored, mistakes),
        calibration=calibration,
        ece=ece,
        slices=tuple(slices),
    )


def _confident_mistakes(scored: Scored, limit: int) -> tuple[Mistake, ...]:
    wrong = np.flatnonzero(~scored.correct)
    confidence = scored.confidence
    if confidence is not None:
        wrong = wrong[np.argsort(-confidence[wrong], kind="stable")]
    return tuple(
        Mistake(
            item=str(scored.ids[i]),
            true=str(scored.y_true[i]),
            predicted=str(scored.y_pred[i]),
            confidence=None if confidence is None else float(confidence[i]),
        )
        for i in wrong[:limit]
    )


def _calibration(scored: Scored, bins: int) -> tuple[tuple[CalibrationBin, ...], float | None]:
    from sklearn.calibration import calibration_curve

    confidence = scored.confidence
    if confidence is None:
        return (), None
    correct = scored.correct.astype(int)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    # scikit-learn's reliability curve gives (observed accuracy, mean confidence) per
    # non-empty bin in bin order; counts come from the same uniform binning.
    if len(set(correct.tolist())) > 1:
        observed, predicted = calibration_curve(correct, confidence, n_bins=bins)
    else:
        filled = sorted(set(which.tolist()))
        observed = np.full(len(filled), float(correct[0]) if len(correct) else 0.0)
        predicted = np.asarray([confidence[which == b].mean() for b in filled])
    counts = np.bincount(which, minlength=bins)
    filled_bins = [b for b in range(bins) if counts[b]]
    found = []
    for b, obs, conf in zip(filled_bins, observed, predicted, strict=False):
        found.append(
            CalibrationBin(
                float(edges[b]), float(edges[b + 1]), int(counts[b]), float(conf), float(obs)
            )
        )
    n = max(len(confidence), 1)
    ece = float(sum(b.rows / n * abs(b.accuracy - b.confidence) for b in found))
    return tuple(found), ece
