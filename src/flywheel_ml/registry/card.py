"""The facts of a model card, gathered from what the registry, track and data stages recorded.

The card says what the model is, where it came from (run, dataset version, commit), how it was
proven (the sealed-test evaluation, constraints, gates, slices, extra test sets), how often the
test labels were read, and where its aliases have been. It is rendered to Markdown and HTML by
:mod:`flywheel_ml.reports.model_card`; nothing on it is typed in by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from flywheel_ml.core.clock import utc_now
from flywheel_ml.errors import NotFoundError
from flywheel_ml.plan.entities import ProjectPage
from flywheel_ml.registry.entities import AliasMove, BehaviourCase, Evaluation, ModelVersion
from flywheel_ml.registry.store import RegistryStore
from flywheel_ml.track.entities import Run

if TYPE_CHECKING:
    from flywheel_ml.registry.evaluation import SealedData
    from flywheel_ml.registry.stage import RunSource


@dataclass(frozen=True, slots=True)
class ModelCardFacts:
    """Everything a model card shows.

    Attributes:
        version: the version the card is about.
        run: the run that trained it (None if the run is gone).
        page: the project page (objective and constraints the evaluation judged against).
        evaluation: the newest evaluation (None when never evaluated).
        evaluations: how many evaluations the version has.
        test_reads: how many audited reads of the dataset's sealed test labels exist.
        aliases: the aliases pointing at this version now.
        history: every alias move of the model, oldest first.
        cases: the model's behavioural cases.
        generated_at: when the facts were gathered.
    """

    version: ModelVersion
    run: Run | None
    page: ProjectPage
    evaluation: Evaluation | None
    evaluations: int
    test_reads: int
    aliases: tuple[str, ...]
    history: tuple[AliasMove, ...]
    cases: tuple[BehaviourCase, ...]
    generated_at: datetime


def gather_card_facts(
    version: ModelVersion,
    *,
    store: RegistryStore,
    runs: RunSource,
    data: SealedData | None,
    page: ProjectPage,
) -> ModelCardFacts:
    """Collect the card's facts for ``version`` from the stores."""
    try:
        run: Run | None = runs.get_run(version.run_id)
    except NotFoundError:
        run = None
    evaluations = store.list_evaluations(version.name, version.version)
    reads = 0
    if data is not None and version.dataset:
        reads = len(data.audit(dataset=version.dataset.split("@", 1)[0]))
    return ModelCardFacts(
        version=version,
        run=run,
        page=page,
        evaluation=evaluations[-1] if evaluations else None,
        evaluations=len(evaluations),
        test_reads=reads,
        aliases=tuple(a for a, v in store.aliases(version.name).items() if v == version.version),
        history=tuple(store.alias_history(version.name)),
        cases=tuple(store.list_cases(version.name)),
        generated_at=utc_now(),
    )
