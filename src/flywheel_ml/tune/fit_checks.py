"""Two experiments that test fitting itself: the overfit check (can the model fit one small
batch almost perfectly?) and the learning curve (does validation still improve with more
training rows?). Each is one run, tagged ``kind=overfit`` or ``kind=learning_curve``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from flywheel_ml.errors import InvalidInputError
from flywheel_ml.tune.configs import ExperimentConfig
from flywheel_ml.tune.diagnostics import curve_verdict
from flywheel_ml.tune.entities import CurvePoint, LearningCurve, OverfitCheck
from flywheel_ml.tune.training import SCORES, build_estimator, check_metric, quiet_fit, scores

if TYPE_CHECKING:
    from flywheel_ml.tune.stage import TuneStage


def overfit(
    tune: TuneStage, config: ExperimentConfig, *, batch_size: int = 64, threshold: float = 0.99
) -> OverfitCheck:
    """The overfit check; the contract is :meth:`TuneStage.overfit`'s."""
    import numpy as np

    if batch_size < 2:
        raise InvalidInputError("--batch must be at least 2", hint="e.g. --batch 64")
    splits = tune.splits(config)
    rng = np.random.default_rng(config.seed)
    rows = rng.permutation(len(splits.y_train))[:batch_size]
    X, y = splits.X_train[rows], splits.y_train[rows]
    metric = "accuracy" if splits.classification else "r2"
    model = build_estimator(config)
    with tune.track.start_run(
        f"overfit-{config.name or config.model.rpartition('.')[2]}",
        params={"config.model": config.model, "batch_size": len(rows)},
        tags={"kind": "overfit"},
        seed=config.seed,
        datasets=[splits.ref],
    ) as run:
        quiet_fit(model, X, y)
        value = scores([metric], model, X, y)[metric]
        run.log_metrics({f"train_{metric}": value, "threshold": threshold}, step=0)
        run.set_tag("overfit", "passed" if value >= threshold else "failed")
    return OverfitCheck(
        run_id=run.id,
        batch_size=len(rows),
        metric=metric,
        train_score=value,
        threshold=threshold,
    )


def learning_curve(
    tune: TuneStage,
    config: ExperimentConfig,
    *,
    sizes: Sequence[float] = (0.1, 0.25, 0.5, 1.0),
    progress: Callable[[int], None] | None = None,
) -> LearningCurve:
    """The learning curve; the contract is :meth:`TuneStage.learning_curve`'s."""
    import numpy as np

    fractions = [float(s) for s in sizes]
    if (
        not fractions
        or any(not 0 < s <= 1 for s in fractions)
        or fractions != sorted(set(fractions))
    ):
        raise InvalidInputError(
            f"sizes {sizes} must be increasing fractions in (0, 1]",
            hint="e.g. --sizes 0.1,0.25,0.5,1.0",
        )
    metric = check_metric(config.metric)
    splits = tune.splits(config)
    order = np.random.default_rng(config.seed).permutation(len(splits.y_train))
    points = []
    with tune.track.start_run(
        f"curve-{config.name or config.model.rpartition('.')[2]}",
        params={"config.model": config.model, "sizes": ",".join(map(str, fractions))},
        tags={"kind": "learning_curve"},
        seed=config.seed,
        datasets=[splits.ref],
    ) as run:
        for step, fraction in enumerate(fractions):
            rows = order[: max(2, round(fraction * len(order)))]
            model = build_estimator(config)
            quiet_fit(model, splits.X_train[rows], splits.y_train[rows])
            train = scores([metric], model, splits.X_train[rows], splits.y_train[rows])
            val = scores([metric], model, splits.X_val, splits.y_val)
            point = CurvePoint(fraction, len(rows), train[metric], val[metric])
            points.append(point)
            run.log_metrics(
                {
                    f"train_{metric}": point.train_score,
                    f"val_{metric}": point.val_score,
                    "rows": float(point.rows),
                },
                step=step,
            )
            if progress is not None:
                progress(step + 1)
        verdict, helps = curve_verdict(points, higher_is_better=SCORES[metric] == "max")
        run.set_tags({"verdict": verdict[:500], "more_data_helps": str(helps).lower()})
    return LearningCurve(run.id, metric, tuple(points), verdict, helps)
