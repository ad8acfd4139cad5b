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
from flywheel_ml.errors import NotFoundError
from flywheel_ml.plan.entities import ProjectPage
from flywheel_ml.track.entities import Run
from flywheel_ml.track.stage import TrackStage
from flywheel_ml.tune import baselines, diagnostics, experiment, fit_checks
from flywheel_ml.tune.configs import ExperimentConfig
from flywheel_ml.tune.entities import Diagnosis, LearningCurve, OverfitCheck, StudyInfo
from flywheel_ml.tune.store import TuneStore
from flywheel_ml.tune.training import Splits, load_splits

if TYPE_CHECKING:
    from optuna.storages import BaseStorage

    from flywheel_ml.label.stage import LabelStage
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
        labels: the label stage (its annotator agreement is a human baseline), opened on
            first use.
    """

    def __init__(
        self,
        store: TuneStore,
        *,
        track: TrackStage,
        data: DataStage,
        page: Callable[[], ProjectPage],
        worker_opener: WorkerOpener | None = None,
        labels: Callable[[], LabelStage] | None = None,
    ) -> None:
        self.store = store
        self.track = track
        self.data = data
        self.page = page
        self.worker_opener = worker_opener
        self.labels = labels
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
        return experiment.train_config(
            self,
            config,
            config_text=config_text,
            name=name,
            tags=tags,
            estimator=estimator,
            log_model=log_model,
            resume=resume,
        )

    # -- baselines -----------------------------------------------------------------------------

    def baselines(self, ref: str, *, label: str = "label", text: str | None = None) -> list[Run]:
        """Train the simple baselines on ``ref``; each becomes a run tagged ``kind=baseline``.

        Raises:
            NotFoundError / InvalidInputError: unknown dataset, missing columns.
        """
        return baselines.run_baselines(self, ref, label=label, text=text)

    def record_human_baseline(
        self, value: float, *, metric: str = "accuracy", note: str = "", dataset: str | None = None
    ) -> Run:
        """Record the human level as a run tagged ``kind=baseline, baseline=human,
        source=manual`` with metric ``val_<metric>`` = ``value``: the ceiling on the
        leaderboard and the reference error of :meth:`diagnose`.

        Raises:
            InvalidInputError: a value outside [0, 1] for a score metric.
        """
        return baselines.record_human(self, value, metric=metric, note=note, dataset=dataset)

    def record_human_baseline_from_labels(self, dataset: str | None = None) -> Run:
        """Record the human level from label agreement: the annotators' mean accuracy against
        the consensus of the others, as ``val_accuracy`` of a human baseline run tagged
        ``source=label_agreement`` with the agreement's dataset, time, item count and
        annotators (and its Fleiss' kappa and Krippendorff's alpha as metrics).

        With ``dataset``, agreement is measured now from its current annotations (and recorded
        by the label stage too); without, the newest recorded agreement is used.

        Raises:
            InvalidInputError: no recorded agreement, or fewer than two annotators sharing
                items of ``dataset``.
        """
        return baselines.record_human_from_labels(self, dataset)

    def baseline_runs(self) -> list[Run]:
        """Every finished baseline run, newest first."""
        return self.track.list_runs("tags.kind = baseline and status = finished")

    def human_baseline(self, metric: str = "accuracy") -> Run | None:
        """The newest human baseline that measured ``metric``, or None."""
        return baselines.human_run(self, metric)

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
        return fit_checks.overfit(self, config, batch_size=batch_size, threshold=threshold)

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
        return fit_checks.learning_curve(self, config, sizes=sizes, progress=progress)

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

        The reference is ``human`` (a score), else the newest human baseline run (by hand or
        from label agreement), else, for accuracy, the newest label agreement recorded for the
        run's dataset, else 0 error. ``train_dev_<metric>`` is used when the run logged it.

        Raises:
            NotFoundError: the run has no ``train_<metric>`` or ``val_<metric>``.
        """
        return diagnostics.diagnose(self, run_id, metric=metric, human=human, tolerance=tolerance)

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
        checks = self.track.count_runs("tags.kind = overfit") + self.track.count_runs(
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
                f"{checks} overfit check(s) / learning curve(s)" if checks else "",
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
