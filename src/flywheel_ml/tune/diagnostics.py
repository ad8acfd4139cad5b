"""Judgements over scores: the overfit check's threshold, the learning-curve verdict, and the
bias/variance decomposition with its remedies.

The decomposition follows the usual method: the human (or best known) error stands in for the
irreducible error; avoidable bias is train error minus that; variance is the gap from train to
held-out data of the training distribution (train-dev, or validation when there is none); data
mismatch is validation minus train-dev error. The largest gap says what to work on next.
"""

from __future__ import annotations

from collections.abc import Sequence

from flywheel_ml.tune.entities import CurvePoint, Gap

REMEDIES: dict[str, tuple[str, ...]] = {
    "avoidable_bias": (
        "use a bigger model (more capacity)",
        "train longer",
        "reduce regularisation",
        "add features",
        "try a more advanced architecture",
        "tune hyper-parameters",
    ),
    "variance": (
        "add more training data",
        "add regularisation",
        "add data augmentation",
        "reduce the model's size",
        "tune hyper-parameters",
    ),
    "data_mismatch": (
        "analyse the errors to see how training and validation data differ",
        "collect or synthesise training data that matches the validation distribution",
        "apply domain adaptation",
    ),
    "none": ("no gap stands out: look at error analysis (`flywheel analyze`) for failure modes",),
}


def error_of(metric: str, value: float) -> float:
    """The error for a score: ``1 - score`` for scores in [0, 1] (accuracy, F1, R²), the value
    itself for losses (rmse, mae)."""
    return value if metric in ("rmse", "mae") else 1.0 - value


def decompose(
    *,
    human_error: float,
    train_error: float,
    val_error: float,
    train_dev_error: float | None,
    tolerance: float = 0.01,
) -> tuple[dict[str, float], Gap]:
    """The gaps and the dominant one (``none`` when all are below ``tolerance``)."""
    gaps = {"avoidable_bias": train_error - human_error}
    if train_dev_error is None:
        gaps["variance"] = val_error - train_error
    else:
        gaps["variance"] = train_dev_error - train_error
        gaps["data_mismatch"] = val_error - train_dev_error
    name, size = max(gaps.items(), key=lambda item: item[1])
    dominant: Gap = "none" if size < tolerance else name  # type: ignore[assignment]
    return gaps, dominant


def curve_verdict(
    points: Sequence[CurvePoint], *, higher_is_better: bool, tolerance: float = 0.005
) -> tuple[str, bool]:
    """What the learning curve says about more data: ``(verdict, more_data_helps)``.

    More data helps when the validation score still improves over the last size step and a
    train/validation gap remains for it to close.
    """
    sign = 1.0 if higher_is_better else -1.0
    last = points[-1]
    gap = sign * (last.train_score - last.val_score)
    if len(points) < 2:
        return ("one size only: give several --sizes to see a trend", False)
    before = points[-2]
    gain = sign * (last.val_score - before.val_score)
    rising = gain > tolerance
    if rising and gap > 2 * tolerance:
        return (
            f"more data should help: validation improved by {gain:.3f} from "
            f"{before.rows:,} to {last.rows:,} rows and a train/validation gap of {gap:.3f} "
            "remains",
            True,
        )
    if rising:
        return (
            f"validation still improves ({gain:+.3f}) but train and validation have met: "
            "more data helps a little; a bigger model helps more",
            True,
        )
    if gap > 2 * tolerance:
        return (
            f"validation has flattened (change {gain:+.3f}) with a gap of {gap:.3f}: more of "
            "the same data helps little; regularise or change features",
            False,
        )
    return (
        f"train and validation converged (gap {gap:.3f}, change {gain:+.3f}): more data will "
        "not help; the model is limited by bias — use a bigger model or better features",
        False,
    )
