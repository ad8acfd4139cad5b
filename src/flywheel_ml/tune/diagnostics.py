"""Judgements over scores: the overfit check's threshold, the learning-curve verdict, and the
bias/variance decomposition with its remedies.

The decomposition follows the usual method: the human (or best known) error stands in for the
irreducible error; avoidable bias is train error minus that; variance is the gap from train to
held-out data of the training distribution (train-dev, or validation when there is none); data
mismatch is validation minus train-dev error. The largest gap says what to work on next.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from flywheel_ml.errors import NotFoundError
from flywheel_ml.track.entities import Run
from flywheel_ml.tune.baselines import LABEL_AGREEMENT, agreement_reference, human_run
from flywheel_ml.tune.entities import CurvePoint, Diagnosis, Gap
from flywheel_ml.tune.training import SCORES, check_metric

if TYPE_CHECKING:
    from flywheel_ml.tune.stage import TuneStage

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


def diagnose(
    tune: TuneStage,
    run_id: str,
    *,
    metric: str | None = None,
    human: float | None = None,
    tolerance: float = 0.01,
) -> Diagnosis:
    """The bias/variance diagnosis of a run; the contract is :meth:`TuneStage.diagnose`'s."""
    run = tune.track.get_run(run_id)
    chosen = metric or _default_metric(tune, run)
    check_metric(chosen)
    needed = (f"train_{chosen}", f"val_{chosen}")
    missing = [k for k in needed if k not in run.metrics]
    if missing:
        raise NotFoundError(
            f"run {run.short_id} has no {', '.join(missing)}",
            hint="diagnose a run trained with `flywheel train` (or one that logged "
            "train_/val_ scores); pick the metric with --metric",
        )
    notes: list[str] = []
    if human is not None:
        human_error, source = error_of(chosen, human), "given"
    else:
        found = human_run(tune, chosen)
        agreed = None if found is not None else agreement_reference(tune, run, chosen)
        if found is not None:
            human_error = error_of(chosen, found.metrics[f"val_{chosen}"])
            source = f"human baseline {found.short_id}"
            if found.tags.get("source") == LABEL_AGREEMENT:
                source += f" (label agreement of {found.tags.get('agreement_dataset', '?')})"
        elif agreed is not None:
            human_error, source = error_of(chosen, agreed[0]), agreed[1]
        else:
            human_error, source = 0.0, "none recorded (0 error assumed)"
            notes.append(
                "no human baseline: avoidable bias is measured against perfection; record "
                "one with `flywheel baseline human --value ...` (or --from-labels)"
            )
    train_error = error_of(chosen, run.metrics[needed[0]])
    val_error = error_of(chosen, run.metrics[needed[1]])
    dev_key = f"train_dev_{chosen}"
    dev_error = error_of(chosen, run.metrics[dev_key]) if dev_key in run.metrics else None
    if dev_error is None:
        notes.append("no train-dev score: variance and data mismatch are not separated")
    gaps, dominant = decompose(
        human_error=human_error,
        train_error=train_error,
        val_error=val_error,
        train_dev_error=dev_error,
        tolerance=tolerance,
    )
    return Diagnosis(
        run_id=run.id,
        metric=chosen,
        human_error=human_error,
        human_source=source,
        train_error=train_error,
        val_error=val_error,
        train_dev_error=dev_error,
        gaps=gaps,
        dominant=dominant,
        remedies=REMEDIES[dominant],
        tolerance=tolerance,
        notes=tuple(notes),
    )


def _default_metric(tune: TuneStage, run: Run) -> str:
    page = tune.page()
    candidates = [page.objective.metric] if page.objective is not None else []
    candidates += ["accuracy", "r2", "f1_macro", "rmse"]
    for name in candidates:
        if name in SCORES and f"train_{name}" in run.metrics and f"val_{name}" in run.metrics:
            return name
    return candidates[0] if candidates[0] in SCORES else "accuracy"
