"""One config file = one experiment = one run: train the config's model on the train split,
score it on val, and keep scores, model, config and lineage in the run.

A model with ``partial_fit`` whose config sets ``epochs`` trains epoch by epoch with a
checkpoint after each, so a long training can be resumed from its newest checkpoint.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from flywheel_ml.errors import InvalidInputError
from flywheel_ml.track.entities import Run
from flywheel_ml.track.sklearn import fit
from flywheel_ml.tune.configs import ExperimentConfig
from flywheel_ml.tune.training import Splits, build_estimator, check_metric, scores

if TYPE_CHECKING:
    from flywheel_ml.tune.stage import TuneStage


def train_config(
    tune: TuneStage,
    config: ExperimentConfig,
    *,
    config_text: str | None = None,
    name: str | None = None,
    tags: Mapping[str, object] | None = None,
    estimator: Any = None,
    log_model: bool = True,
    resume: str | None = None,
) -> Run:
    """Train ``config`` in one run; the contract is :meth:`TuneStage.train`'s."""
    import warnings

    import numpy as np
    from sklearn.exceptions import ConvergenceWarning

    metrics = _metrics_of(config)
    splits = tune.splits(config)
    model = estimator if estimator is not None else build_estimator(config)
    incremental = (
        estimator is None
        and config.text is None
        and callable(getattr(model, "partial_fit", None))
        and "epochs" in config.model_fields_set
    )
    if resume is not None and not incremental:
        raise InvalidInputError(
            "--resume needs a model trained in epochs",
            hint="use an estimator with partial_fit and set epochs: in the config",
        )
    run_name = name or config.name or config.model.rpartition(".")[2]
    with tune.track.start_run(
        run_name,
        params={"config.model": config.model},
        tags={"kind": "train", **(tags or {})},
        seed=config.seed,
        datasets=[splits.ref],
    ) as run:
        if config_text is not None:
            run.log_text("config.yaml", config_text)
        X_train, y_train = splits.X_train, splits.y_train
        dev = None
        if config.train_dev > 0:
            # Held-out rows of the training distribution: they separate variance from
            # data mismatch in `diagnose`.
            order = np.random.default_rng(config.seed).permutation(len(y_train))
            cut = max(1, round(len(order) * config.train_dev))
            dev = (X_train[order[:cut]], y_train[order[:cut]])
            X_train, y_train = X_train[order[cut:]], y_train[order[cut:]]
            run.log_param("train_dev", config.train_dev)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            if incremental:
                model = _train_epochs(tune, run, model, config, splits, X_train, y_train,
                                           resume=resume)  # fmt: skip
                both = ["accuracy", "f1_macro"] if splits.classification else ["r2", "rmse"]
                run.log_metrics(
                    {
                        **{f"train_{k}": v for k, v in
                           scores(both, model, X_train, y_train).items()},
                        **{f"val_{k}": v for k, v in
                           scores(both, model, splits.X_val, splits.y_val).items()},
                    },
                    step=config.epochs,
                )  # fmt: skip
                if log_model:
                    run.log_model(model)
            else:
                fit(
                    model,
                    X_train,
                    y_train,
                    run=run,
                    eval_sets={"val": (splits.X_val, splits.y_val)},
                    log_model=log_model,
                )
        extra = [m for m in metrics if m not in ("accuracy", "f1_macro", "r2", "rmse")]
        logged: dict[str, float] = {}
        if extra:
            logged.update(
                {f"train_{k}": v for k, v in scores(extra, model, X_train, y_train).items()}
            )
            logged.update(
                {f"val_{k}": v for k, v in scores(extra, model, splits.X_val, splits.y_val).items()}
            )
        if dev is not None:
            logged.update(
                {f"train_dev_{k}": v for k, v in scores(metrics, model, dev[0], dev[1]).items()}
            )
        if logged:
            run.log_metrics(logged, step=0)
    return tune.track.get_run(run.id)


def _train_epochs(
    tune: TuneStage,
    run: Any,
    model: Any,
    config: ExperimentConfig,
    splits: Splits,
    X: Any,
    y: Any,
    *,
    resume: str | None,
) -> Any:
    import numpy as np

    first = 0
    if resume is not None:
        model, step = tune.track.load_checkpoint(resume)
        first = step + 1
        run.set_tags({"resumed_from": tune.track.get_run(resume).id, "resumed_at": first})
    classes = np.unique(splits.y_train) if splits.classification else None
    for epoch in range(first, config.epochs):
        if classes is not None:
            model.partial_fit(X, y, classes=classes)
        else:
            model.partial_fit(X, y)
        value = scores([config.metric], model, splits.X_val, splits.y_val)[config.metric]
        run.log_metric(f"val_{config.metric}", value, step=epoch)
        run.checkpoint(model, step=epoch)
    return model


def _metrics_of(config: ExperimentConfig) -> list[str]:
    names = [check_metric(config.metric)]
    names += [check_metric(m) for m in config.metrics if m != config.metric]
    return names
