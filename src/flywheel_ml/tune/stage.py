"""The tune stage's verbs: train a config, baselines, overfit check, learning curve, diagnosis,
coarse-to-fine search, and what a study found.

>>> run = ws.tune.train(load_config("configs/rf.yaml"))                 # doctest: +SKIP
>>> ws.tune.baselines("digits@v2")                                        # doctest: +SKIP
>>> ws.tune.search(load_config("configs/rf.yaml"), n_trials=40, jobs=2)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from flywheel_ml.core.lifecycle import Deliverable
from flywheel_ml.data.stage import DataStage
from flywheel_ml.errors import InvalidInputError, NotFoundError
from flywheel_ml.plan.entities import ProjectPage
from flywheel_ml.track.entities import Run
from flywheel_ml.track.sklearn import fit
from flywheel_ml.track.stage import TrackStage
from flywheel_ml.tune.baselines import simple_baselines
from flywheel_ml.tune.configs import ExperimentConfig
from flywheel_ml.tune.diagnostics import REMEDIES, curve_verdict, decompose, error_of
from flywheel_ml.tune.entities import CurvePoint, Diagnosis, LearningCurve, OverfitCheck, StudyInfo
from flywheel_ml.tune.store import TuneStore
from flywheel_ml.tune.training import (
    SCORES,
    Splits,
    build_estimator,
    check_metric,
    load_splits,
    quiet_fit,
    scores,
)

if TYPE_CHECKING:
    from optuna.storages import BaseStorage

    from flywheel_ml.tune.search import SearchResult, StudyReport

WorkerOpener = Callable[[], Callable[[], "TuneStage"]]
"""Returns a picklable zero-argument callable that opens this workspace's tune stage in another
process (a search worker)."""


class TuneStage:
    """Baselines, diagnostics and searches for one workspace.

    Args:
        store: studies and Optuna's journal.
        track: where every experiment becomes a run.
        data: where the training and validation splits come from.
        page: the current project page (its objective names the default metric).
        worker_opener: how search workers in other processes reach this workspace.
    """

    def __init__(
        self,
        store: TuneStore,
        *,
        track: TrackStage,
        data: DataStage,
        page: Callable[[], ProjectPage],
        worker_opener: WorkerOpener | None = None,
    ) -> None:
        self.store = store
        self.track = track
        self.data = data
        self._page = page
        self.worker_opener = worker_opener
        self._splits: dict[tuple[object, ...], Splits] = {}
        self._storage: BaseStorage | None = None

    # -- data ----------------------------------------------------------------------------------

    def splits(self, config: ExperimentConfig) -> Splits:
        """The config's train and val data (read once per process)."""
        key = (config.data, config.label, config.text, tuple(config.features or ()))
        found = self._splits.get(key)
        if found is None or "@latest" in config.data or "@" not in config.data:
            found = load_splits(self.data, config)
            self._splits[key] = found
        return found

    @property
    def optuna_storage(self) -> BaseStorage:
        """Optuna's storage, kept in the workspace database."""
        if self._storage is None:
            from flywheel_ml.tune.journal import journal_storage

            self._storage = journal_storage(self.store)
        return self._storage

    # -- one experiment ------------------------------------------------------------------------

    def train(
        self,
        config: ExperimentConfig,
        *,
        config_text: str | None = None,
        name: str | None = None,
        tags: Mapping[str, object] | None = None,
        estimator: Any = None,
        log_model: bool = True,
        resume: str | None = None,
    ) -> Run:
        """Train the config's model on the train split, score it on val, all in one run.

        The run records the config's parameters, the dataset version (lineage), the seed, the
        config file (artifact ``config.yaml``), train/val scores, latency and the model.

        A model with ``partial_fit`` whose config sets ``epochs`` trains epoch by epoch,
        logging ``val_<metric>`` and a checkpoint after each; ``resume`` names a run whose
        newest checkpoint the training continues from (the new run is tagged
        ``resumed_from``).

        Raises:
            InvalidInputError / NotFoundError: bad config, data or parameters (before any run
                is created).
        """
        import warnings

        import numpy as np
        from sklearn.exceptions import ConvergenceWarning

        metrics = _metrics_of(config)
        splits = self.splits(config)
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
        with self.track.start_run(
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
                    model = self._train_epochs(run, model, config, splits, X_train, y_train,
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
                    {
                        f"val_{k}": v
                        for k, v in scores(extra, model, splits.X_val, splits.y_val).items()
                    }
                )
            if dev is not None:
                logged.update(
                    {f"train_dev_{k}": v for k, v in scores(metrics, model, dev[0], dev[1]).items()}
                )
            if logged:
                run.log_metrics(logged, step=0)
        return self.track.get_run(run.id)

    def _train_epochs(
        self,
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
            model, step = self.track.load_checkpoint(resume)
            first = step + 1
            run.set_tags({"resumed_from": self.track.get_run(resume).id, "resumed_at": first})
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

    # -- baselines -----------------------------------------------------------------------------

    def baselines(self, ref: str, *, label: str = "label", text: str | None = None) -> list[Run]:
        """Train the simple baselines on ``ref``; each becomes a run tagged ``kind=baseline``.

        Raises:
            NotFoundError / InvalidInputError: unknown dataset, missing columns.
        """
        config = ExperimentConfig(
            data=ref, label=label, text=text, model="sklearn.dummy.DummyClassifier", seed=0
        )
        from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

        splits = self.splits(config)
        runs = []
        # One OpenMP thread: gradient boosting on a busy 2-core machine is many times slower
        # with a thread per core fighting for it than with one.
        for name, estimator in simple_baselines(
            classification=splits.classification, text=text is not None
        ):
            with threadpool_limits(limits=1, user_api="openmp"):
                runs.append(
                    self.train(
                        config,
                        name=f"baseline-{name}",
                        tags={"kind": "baseline", "baseline": name},
                        estimator=estimator,
                    )
                )
        return runs

    def record_human_baseline(
        self, value: float, *, metric: str = "accuracy", note: str = "", dataset: str | None = None
    ) -> Run:
        """Record the human level as a run tagged ``kind=baseline, baseline=human`` with metric
        ``val_<metric>`` = ``value``: the ceiling on the leaderboard and the reference error of
        :meth:`diagnose`.

        Raises:
            InvalidInputError: a value outside [0, 1] for a score metric.
        """
        check_metric(metric)
        if SCORES[metric] == "max" and not 0.0 <= value <= 1.0:
            raise InvalidInputError(
                f"a human {metric} of {value} is outside [0, 1]", hint="e.g. --value 0.96"
            )
        with self.track.start_run(
            "baseline-human",
            tags={"kind": "baseline", "baseline": "human", "note": note[:500]},
            datasets=[dataset] if dataset else (),
        ) as run:
            run.log_metric(f"val_{metric}", float(value), step=0)
        return self.track.get_run(run.id)

    def baseline_runs(self) -> list[Run]:
        """Every finished baseline run, newest first."""
        return self.track.list_runs("tags.kind = baseline and status = finished")

    def human_baseline(self, metric: str = "accuracy") -> Run | None:
        """The newest human baseline that measured ``metric``, or None."""
        for run in self.track.list_runs("tags.baseline = human and status = finished"):
            if f"val_{metric}" in run.metrics:
                return run
        return None

    # -- diagnostics ---------------------------------------------------------------------------

    def overfit(
        self, config: ExperimentConfig, *, batch_size: int = 64, threshold: float = 0.99
    ) -> OverfitCheck:
        """Train on one small batch of the train split and score on that same batch: a model
        that cannot fit it almost perfectly has a capacity, data or code problem. One run
        tagged ``kind=overfit``.

        Raises:
            InvalidInputError: a batch size below 2.
        """
        import numpy as np

        if batch_size < 2:
            raise InvalidInputError("--batch must be at least 2", hint="e.g. --batch 64")
        splits = self.splits(config)
        rng = np.random.default_rng(config.seed)
        rows = rng.permutation(len(splits.y_train))[:batch_size]
        X, y = splits.X_train[rows], splits.y_train[rows]
        metric = "accuracy" if splits.classification else "r2"
        model = build_estimator(config)
        with self.track.start_run(
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
        self,
        config: ExperimentConfig,
        *,
        sizes: Sequence[float] = (0.1, 0.25, 0.5, 1.0),
        progress: Callable[[int], None] | None = None,
    ) -> LearningCurve:
        """Train on growing shares of the train split (nested, fixed seed) and score on train
        and val; one run tagged ``kind=learning_curve`` with ``train_<m>``/``val_<m>`` per
        step and ``rows`` per step. The verdict says whether more data should help.

        Raises:
            InvalidInputError: sizes outside (0, 1] or not increasing.
        """
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
        splits = self.splits(config)
        order = np.random.default_rng(config.seed).permutation(len(splits.y_train))
        points = []
        with self.track.start_run(
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

    def diagnose(
        self,
        run_id: str,
        *,
        metric: str | None = None,
        human: float | None = None,
        tolerance: float = 0.01,
    ) -> Diagnosis:
        """Decompose a run's error into avoidable bias, variance and (with a train-dev score)
        data mismatch, name the dominant gap and its remedies.

        The reference is ``human`` (a score), else the newest human baseline, else 0 error.
        ``train_dev_<metric>`` is used when the run logged it.

        Raises:
            NotFoundError: the run has no ``train_<metric>`` or ``val_<metric>``.
        """
        run = self.track.get_run(run_id)
        chosen = metric or self._default_metric(run)
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
            found = self.human_baseline(chosen)
            if found is not None:
                human_error = error_of(chosen, found.metrics[f"val_{chosen}"])
                source = f"human baseline {found.short_id}"
            else:
                human_error, source = 0.0, "none recorded (0 error assumed)"
                notes.append(
                    "no human baseline: avoidable bias is measured against perfection; record "
                    "one with `flywheel baseline human --value ...`"
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

    def _default_metric(self, run: Run) -> str:
        page = self._page()
        candidates = [page.objective.metric] if page.objective is not None else []
        candidates += ["accuracy", "r2", "f1_macro", "rmse"]
        for name in candidates:
            if name in SCORES and f"train_{name}" in run.metrics and f"val_{name}" in run.metrics:
                return name
        return candidates[0] if candidates[0] in SCORES else "accuracy"

    # -- search --------------------------------------------------------------------------------

    def search(
        self,
        config: ExperimentConfig,
        *,
        study: str,
        n_trials: int = 20,
        coarse_fraction: float = 0.5,
        jobs: int = 1,
        dask: str | None = None,
        timeout: float | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> SearchResult:
        """Coarse-to-fine search; see :func:`flywheel_ml.tune.search.run_search`."""
        from flywheel_ml.tune.search import run_search

        return run_search(
            self,
            config,
            study=study,
            n_trials=n_trials,
            coarse_fraction=coarse_fraction,
            jobs=jobs,
            dask=dask,
            timeout=timeout,
            progress=progress,
        )

    def study_report(self, name: str) -> StudyReport:
        """A study's trials, best trial and parameter importance (see
        :func:`flywheel_ml.tune.search.study_report`)."""
        from flywheel_ml.tune.search import study_report

        return study_report(self, name)

    def get_study(self, name: str) -> StudyInfo:
        """The study of that name.

        Raises:
            NotFoundError: no such study.
        """
        found = self.store.get_study(name)
        if found is None:
            raise NotFoundError(f"no study {name!r}", hint="list studies with `flywheel tune show`")
        return found

    def list_studies(self) -> list[StudyInfo]:
        """Every study, newest first."""
        return self.store.list_studies()

    def deliverables(self) -> tuple[Deliverable, ...]:
        """The tune stage's evidence for ``status``."""
        baselines = self.track.count_runs("tags.kind = baseline")
        human = self.track.count_runs("tags.baseline = human")
        diagnostics = self.track.count_runs("tags.kind = overfit") + self.track.count_runs(
            "tags.kind = learning_curve"
        )
        studies = self.store.list_studies()
        return (
            _deliverable(
                "baselines",
                f"{baselines} baseline run(s), human level {'recorded' if human else 'missing'}"
                if baselines
                else "",
                "flywheel baseline DATASET@vN",
            ),
            _deliverable(
                "diagnostics",
                f"{diagnostics} overfit check(s) / learning curve(s)" if diagnostics else "",
                "flywheel tune learning-curve configs/example.yaml",
            ),
            _deliverable(
                "searches",
                f"{len(studies)} study(ies); latest {studies[0].name}" if studies else "",
                "flywheel tune search configs/example.yaml --trials 20",
            ),
        )


def _deliverable(name: str, evidence: str, next_step: str) -> Deliverable:
    if evidence:
        return Deliverable(name, True, evidence)
    return Deliverable(name, False, next_step=next_step)


def _metrics_of(config: ExperimentConfig) -> list[str]:
    names = [check_metric(config.metric)]
    names += [check_metric(m) for m in config.metrics if m != config.metric]
    return names
