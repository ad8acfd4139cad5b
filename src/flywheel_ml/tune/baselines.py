"""The baselines every project should beat (the floor) and the human level (the ceiling).

Simple baselines are fixed-seed scikit-learn models: always the majority class, random labels
in class proportions, logistic regression, gradient boosting, and TF-IDF + logistic regression
when the data is one text column. Regression gets the mean, ridge regression and gradient
boosting. Each is a run tagged ``kind=baseline``.

The human level is a run tagged ``baseline=human`` with ``val_<metric>``: a value someone
measured (``source=manual``), or the annotators' agreement from the label stage
(``source=label_agreement``): their mean accuracy against the consensus of the others, with the
agreement's dataset, time, annotators and item count kept as tags.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from flywheel_ml.errors import InvalidInputError
from flywheel_ml.track.entities import Run
from flywheel_ml.tune.configs import ExperimentConfig
from flywheel_ml.tune.training import SCORES, check_metric

if TYPE_CHECKING:
    from flywheel_ml.tune.stage import TuneStage

BASELINE_SEED = 0
LABEL_AGREEMENT = "label_agreement"


def simple_baselines(*, classification: bool, text: bool) -> list[tuple[str, Any]]:
    """``(name, unfitted estimator)`` for each simple baseline, floor first."""
    from sklearn.dummy import DummyClassifier, DummyRegressor
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if not classification:
        return [
            ("mean", DummyRegressor(strategy="mean")),
            ("ridge", make_pipeline(StandardScaler(), Ridge(random_state=BASELINE_SEED))),
            (
                "gradient-boosting",
                HistGradientBoostingRegressor(
                    max_iter=50, max_leaf_nodes=15, random_state=BASELINE_SEED
                ),
            ),
        ]
    floor: list[tuple[str, Any]] = [
        ("majority", DummyClassifier(strategy="most_frequent")),
        ("stratified", DummyClassifier(strategy="stratified", random_state=BASELINE_SEED)),
    ]
    if text:
        return [
            *floor,
            (
                "tfidf-logistic-regression",
                make_pipeline(
                    TfidfVectorizer(min_df=1),
                    LogisticRegression(max_iter=1000, random_state=BASELINE_SEED),
                ),
            ),
        ]
    return [
        *floor,
        (
            "logistic-regression",
            make_pipeline(
                StandardScaler(), LogisticRegression(max_iter=1000, random_state=BASELINE_SEED)
            ),
        ),
        (
            "gradient-boosting",
            HistGradientBoostingClassifier(
                max_iter=50, max_leaf_nodes=15, random_state=BASELINE_SEED
            ),
        ),
    ]


def run_baselines(tune: TuneStage, ref: str, *, label: str, text: str | None) -> list[Run]:
    """Train the simple baselines on ``ref``; the contract is :meth:`TuneStage.baselines`'s."""
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    config = ExperimentConfig(
        data=ref, label=label, text=text, model="sklearn.dummy.DummyClassifier", seed=0
    )
    splits = tune.splits(config)
    runs = []
    # One OpenMP thread: gradient boosting on a busy 2-core machine is many times slower
    # with a thread per core fighting for it than with one.
    for name, estimator in simple_baselines(
        classification=splits.classification, text=text is not None
    ):
        with threadpool_limits(limits=1, user_api="openmp"):
            runs.append(
                tune.train(
                    config,
                    name=f"baseline-{name}",
                    tags={"kind": "baseline", "baseline": name},
                    estimator=estimator,
                )
            )
    return runs


def record_human(
    tune: TuneStage,
    value: float,
    *,
    metric: str,
    note: str,
    dataset: str | None,
    provenance: Mapping[str, object] | None = None,
    extra: Mapping[str, float] | None = None,
) -> Run:
    """Record the human level as a run; the contract is :meth:`TuneStage.record_human_baseline`'s.

    ``provenance`` adds tags (``source`` defaults to ``manual``); ``extra`` adds metrics.
    """
    check_metric(metric)
    if SCORES[metric] == "max" and not 0.0 <= value <= 1.0:
        raise InvalidInputError(
            f"a human {metric} of {value} is outside [0, 1]", hint="e.g. --value 0.96"
        )
    tags = {"kind": "baseline", "baseline": "human", "source": "manual", "note": note[:500]}
    with tune.track.start_run(
        "baseline-human",
        tags={**tags, **(provenance or {})},
        datasets=[dataset] if dataset else (),
    ) as run:
        run.log_metrics({f"val_{metric}": float(value), **(extra or {})}, step=0)
    return tune.track.get_run(run.id)


def record_human_from_labels(tune: TuneStage, dataset: str | None) -> Run:
    """Record the human level from label agreement; the contract is
    :meth:`TuneStage.record_human_baseline_from_labels`'s."""
    if tune.labels is None:
        raise InvalidInputError(
            "this workspace has no label stage to take agreement from",
            hint="give the human level with --value",
        )
    labels = tune.labels()
    if dataset is not None:
        labels.agreement(dataset)  # measured now, from the current annotations (and recorded)
    found = labels.human_baseline(dataset)
    if found is None:
        raise InvalidInputError(
            "no label agreement is recorded",
            hint="name the labelled dataset with --dataset (two annotators must share items), "
            "or give the human level with --value",
        )
    value = found.get("mean_accuracy")
    if value is None:
        raise InvalidInputError(
            f"the label agreement of {found['dataset']} measured no annotator's accuracy",
            hint="annotators must label common items; or give the human level with --value",
        )
    annotators = [str(a) for a in found.get("annotators", [])]
    note = (
        f"label agreement of {found['dataset']}: mean accuracy of {len(annotators)} "
        f"annotators against the others' consensus on {found.get('items', 0)} items"
    )
    at = found["at"]
    extra = {
        f"agreement_{key}": float(found[key])
        for key in ("fleiss_kappa", "alpha_nominal")
        if found.get(key) is not None
    }
    return record_human(
        tune,
        float(value),
        metric="accuracy",
        note=note,
        dataset=str(found["dataset"]),
        provenance={
            "source": LABEL_AGREEMENT,
            "agreement_dataset": found["dataset"],
            "agreement_at": at.isoformat() if hasattr(at, "isoformat") else str(at),
            "agreement_items": found.get("items", 0),
            "annotators": ",".join(annotators)[:500],
        },
        extra=extra,
    )


def agreement_reference(tune: TuneStage, run: Run, metric: str) -> tuple[float, str] | None:
    """``(human accuracy, where it comes from)`` from the newest recorded label agreement of
    the run's dataset, for a run scored by accuracy; None when there is none."""
    if metric != "accuracy" or tune.labels is None or not run.datasets:
        return None
    name = run.datasets[0].split("@", 1)[0]
    found = tune.labels().human_baseline(name)
    if found is None or found.get("mean_accuracy") is None:
        return None
    items = found.get("items", 0)
    return float(found["mean_accuracy"]), f"label agreement of {name} ({items} items)"


def human_run(tune: TuneStage, metric: str) -> Run | None:
    """The newest human baseline run that measured ``metric``, or None."""
    for run in tune.track.list_runs("tags.baseline = human and status = finished"):
        if f"val_{metric}" in run.metrics:
            return run
    return None
