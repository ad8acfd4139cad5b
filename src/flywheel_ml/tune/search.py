"""Coarse-to-fine hyper-parameter search with Optuna, every trial a run of its study.

The coarse stage samples the whole space at random; the fine stage narrows the space around the
best coarse trials and samples it with TPE (which also learns from the coarse trials). Both
stages run on one executor: this process, ``jobs`` local processes, or the workers of a Dask
cluster; every worker opens the workspace itself and writes into the same Optuna study, whose
journal lives in the workspace database.

Incremental learners (estimators with ``partial_fit``) train epoch by epoch, report the
validation score after each and are pruned by the median rule when they fall behind.

A search is resumable: running it again with the same study name continues where it stopped.
Trials left ``RUNNING`` by an interrupted search are marked failed and redone, so the study ends
with the requested number of completed (or pruned) trials. Resume assumes no other process is
still working on that study.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flywheel_ml.core.clock import utc_now
from flywheel_ml.core.identity import current_actor
from flywheel_ml.errors import ConflictError, InvalidInputError
from flywheel_ml.track.names import check_name
from flywheel_ml.tune.configs import ExperimentConfig
from flywheel_ml.tune.entities import StudyInfo
from flywheel_ml.tune.executors import open_executor
from flywheel_ml.tune.space import narrow, suggest
from flywheel_ml.tune.training import SCORES, check_metric, quiet_fit, score

if TYPE_CHECKING:
    import optuna

    from flywheel_ml.tune.stage import TuneStage

COARSE, FINE = "coarse", "fine"
_TOP_SHARE = 0.25


@dataclass(frozen=True, slots=True)
class SearchResult:
    """What a search (or the part of it this call ran) ended with."""

    study: str
    metric: str
    direction: str
    n_trials: int
    completed: int
    ran_now: int
    best_value: float | None
    best_params: dict[str, Any]
    best_run_id: str | None
    fine_space: dict[str, Any] | None


def run_search(
    tune: TuneStage,
    config: ExperimentConfig,
    *,
    study: str,
    n_trials: int,
    coarse_fraction: float = 0.5,
    jobs: int = 1,
    dask: str | None = None,
    timeout: float | None = None,
    progress: Callable[[int], None] | None = None,
) -> SearchResult:
    """Run (or resume) the study ``study`` up to ``n_trials`` finished trials.

    Args:
        tune: the tune stage (its store holds the study).
        config: the experiment; its ``search:`` space is searched, ``metric`` on val optimised.
        study: the study's name; an existing study of that name is resumed.
        n_trials: completed or pruned trials wanted in total (coarse + fine).
        coarse_fraction: share of the trials in the coarse (random) stage.
        jobs: worker processes (1: this process), or Dask workers started for ``dask='local'``.
        dask: ``'local'`` for a LocalCluster on 127.0.0.1, or a scheduler address.
        timeout: stop starting trials after this many seconds.

    Raises:
        InvalidInputError: no search space, bad numbers, or a study name in use by another
            config.
    """
    import optuna

    check_name(study, what="study")
    metric = check_metric(config.metric)
    if not config.search:
        raise InvalidInputError(
            "the config has no search: space", hint="add e.g. search: {max_depth: {int: [2, 32]}}"
        )
    if n_trials < 1 or jobs < 1 or not 0 < coarse_fraction <= 1:
        raise InvalidInputError(
            "--trials and --jobs must be at least 1 and the coarse share in (0, 1]",
            hint="e.g. --trials 40 --jobs 2",
        )
    if timeout is not None and timeout <= 0:
        raise InvalidInputError("--timeout must be positive", hint="seconds, e.g. --timeout 600")
    config.build()  # a bad model or parameter fails here, before anything is written
    tune.splits(config)
    direction = SCORES[metric]
    info = StudyInfo(
        name=study,
        config=config.model_dump(mode="json", by_alias=True),
        metric=metric,
        direction=direction,
        n_trials=n_trials,
        coarse_trials=max(1, min(n_trials, round(n_trials * coarse_fraction))),
        fine_space=None,
        created_by=current_actor(),
        created_at=utc_now(),
    )
    if not tune.store.create_study(info):
        existing = tune.get_study(study)
        if dict(existing.config) != dict(info.config):
            raise ConflictError(
                f"study {study!r} exists with another config",
                hint="resume it with the same config file, or pick a new --study name",
            )
        info = existing
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = tune.optuna_storage
    handle = optuna.create_study(
        study_name=study,
        storage=storage,
        load_if_exists=True,
        direction="maximize" if direction == "max" else "minimize",
    )
    _fail_stale(handle)
    deadline = None if timeout is None else time.monotonic() + timeout
    ran = 0
    stages = ((COARSE, info.coarse_trials, 0), (FINE, info.n_trials - info.coarse_trials, 1))
    with open_executor(tune, jobs=jobs, dask=dask) as execute:
        for stage, target, offset in stages:
            if stage == FINE and target > 0 and info.fine_space is None:
                info = _plan_fine(tune, handle, info)
            remaining = target - _done(handle, stage)
            left = None if deadline is None else deadline - time.monotonic()
            if remaining <= 0:
                continue
            if left is not None and left <= 0:
                break
            # Different seeds per stage (and per worker): no two samplers repeat each other.
            ran += execute(
                study, stage, remaining, seed=config.seed + offset * 500_000, timeout=left
            )
            if progress is not None:
                progress(ran)
    return summarise(handle, info, ran_now=ran)


def summarise(handle: optuna.Study, info: StudyInfo, *, ran_now: int = 0) -> SearchResult:
    """The study's result so far."""
    from optuna.trial import TrialState

    done = [t for t in handle.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    best = None
    if done:
        best = (max if info.direction == "max" else min)(done, key=lambda t: float(t.value))  # type: ignore[arg-type]
    pruned = len(handle.get_trials(deepcopy=False, states=(TrialState.PRUNED,)))
    return SearchResult(
        study=info.name,
        metric=info.metric,
        direction=info.direction,
        n_trials=info.n_trials,
        completed=len(done) + pruned,
        ran_now=ran_now,
        best_value=None if best is None else best.value,
        best_params={} if best is None else dict(best.params),
        best_run_id=None if best is None else best.user_attrs.get("run_id"),
        fine_space=None if info.fine_space is None else dict(info.fine_space),
    )


def run_trials(
    tune: TuneStage, study: str, *, stage: str, n_trials: int, seed: int, timeout: float | None
) -> int:
    """Run ``n_trials`` trials of ``stage`` in this process; returns how many ran."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    info = tune.get_study(study)
    config = ExperimentConfig.model_validate(info.config)
    fine: Any = info.fine_space or {}
    space: dict[str, Any] = dict(config.search_space() if stage == COARSE else fine)
    sampler: optuna.samplers.BaseSampler = (
        optuna.samplers.RandomSampler(seed=seed)
        if stage == COARSE
        else optuna.samplers.TPESampler(seed=seed, n_startup_trials=0)
    )
    handle = optuna.load_study(
        study_name=study,
        storage=tune.optuna_storage,
        sampler=sampler,
        pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1),
    )
    splits = tune.splits(config)
    counted = [0]

    def objective(trial: optuna.Trial) -> float:
        counted[0] += 1
        trial.set_user_attr("stage", stage)
        params = suggest(trial, space)
        return _trial(tune, config, info, splits, trial, stage, params)

    handle.optimize(
        objective,
        n_trials=n_trials,
        timeout=timeout,
        catch=(ValueError, ArithmeticError),
        gc_after_trial=False,
    )
    tune.track.flush()
    return counted[0]


def _trial(
    tune: TuneStage,
    config: ExperimentConfig,
    info: StudyInfo,
    splits: Any,
    trial: optuna.Trial,
    stage: str,
    params: dict[str, Any],
) -> float:
    import numpy as np
    import optuna

    metric = info.metric
    estimator = tune_estimator(config, params)
    incremental = config.text is None and callable(getattr(estimator, "partial_fit", None))
    pruned = False
    with tune.track.start_run(
        f"{info.name}-{trial.number}",
        params={**params, "config.model": config.model},
        tags={"kind": "trial", "study": info.name, "trial": trial.number, "stage": stage},
        datasets=[splits.ref],
        seed=config.seed,
    ) as run:
        trial.set_user_attr("run_id", run.id)
        if incremental:
            classes = np.unique(splits.y_train) if splits.classification else None
            for epoch in range(config.epochs):
                if classes is not None:
                    estimator.partial_fit(splits.X_train, splits.y_train, classes=classes)
                else:
                    estimator.partial_fit(splits.X_train, splits.y_train)
                value = score(metric, splits.y_val, estimator.predict(splits.X_val))
                run.log_metric(f"val_{metric}", value, step=epoch)
                trial.report(value, epoch)
                if trial.should_prune():
                    pruned = True
                    run.set_tag("pruned", f"epoch {epoch}")
                    break
        else:
            quiet_fit(estimator, splits.X_train, splits.y_train)
            value = score(metric, splits.y_val, estimator.predict(splits.X_val))
        train_value = score(metric, splits.y_train, estimator.predict(splits.X_train))
        step = config.epochs - 1 if incremental and not pruned else 0
        run.log_metrics({f"train_{metric}": train_value, f"val_{metric}": value}, step=step)
    if pruned:
        raise optuna.TrialPruned()
    return value


def tune_estimator(config: ExperimentConfig, params: dict[str, Any]) -> Any:
    """The config's estimator with a trial's parameters."""
    from flywheel_ml.tune.training import build_estimator

    return build_estimator(config, params)


def _done(handle: optuna.Study, stage: str) -> int:
    from optuna.trial import TrialState

    states = (TrialState.COMPLETE, TrialState.PRUNED)
    return sum(
        1
        for t in handle.get_trials(deepcopy=False, states=states)
        if t.user_attrs.get("stage") == stage
    )


def _fail_stale(handle: optuna.Study) -> None:
    """Trials left running by an interrupted search fail (they are redone)."""
    from optuna.trial import TrialState

    for trial in handle.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        handle._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)


def _plan_fine(tune: TuneStage, handle: optuna.Study, info: StudyInfo) -> StudyInfo:
    """Narrow the space around the best coarse trials and keep it with the study."""
    import dataclasses

    from optuna.trial import TrialState

    config = ExperimentConfig.model_validate(info.config)
    done = [
        t
        for t in handle.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if t.user_attrs.get("stage") == COARSE
    ]
    done.sort(key=lambda t: float(t.value), reverse=info.direction == "max")  # type: ignore[arg-type]
    top = done[: max(2, math.ceil(len(done) * _TOP_SHARE))]
    space = narrow(config.search_space(), [t.params for t in top])
    tune.store.set_fine_space(info.name, space)
    return dataclasses.replace(info, fine_space=space)


@dataclass(frozen=True, slots=True)
class StudyReport:
    """What ``tune show`` prints: ``summary`` is JSON-ready; ``handle`` is the Optuna study
    (for plots)."""

    handle: Any
    summary: dict[str, Any]


def study_report(tune: TuneStage, name: str) -> StudyReport:
    """Trials (number, stage, state, value, params, run), the best trial, parameter importance.

    Raises:
        NotFoundError: no such study.
    """
    import optuna
    from optuna.trial import TrialState

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    info = tune.get_study(name)
    handle = optuna.load_study(study_name=name, storage=tune.optuna_storage)
    result = summarise(handle, info)
    trials = [
        {
            "number": t.number,
            "stage": t.user_attrs.get("stage", ""),
            "state": t.state.name,
            "value": t.value,
            "params": dict(t.params),
            "run_id": t.user_attrs.get("run_id"),
        }
        for t in handle.get_trials(deepcopy=False)
    ]
    done = [t for t in trials if t["state"] == TrialState.COMPLETE.name]
    best = None
    if result.best_value is not None:
        best = next(t for t in done if t["value"] == result.best_value)
    importance: dict[str, float] = {}
    if len(done) >= 2:
        try:
            importance = {
                k: float(v) for k, v in optuna.importance.get_param_importances(handle).items()
            }
        except (RuntimeError, ValueError, ZeroDivisionError):
            importance = {}  # every parameter constant: nothing to attribute
    summary = {
        "study": info.name,
        "metric": info.metric,
        "direction": info.direction,
        "n_trials": info.n_trials,
        "coarse_trials": info.coarse_trials,
        "completed": result.completed,
        "fine_space": result.fine_space,
        "best": best,
        "importance": importance,
        "trials": trials,
    }
    return StudyReport(handle=handle, summary=summary)
