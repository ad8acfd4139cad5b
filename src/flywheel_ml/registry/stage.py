"""The registry stage's verbs: register, look up, load, evaluate, alias, delete, card.

>>> v = ws.registry.register(run_id, name="digits-clf")              # doctest: +SKIP
>>> ws.registry.evaluate(v.ref).passed                                 # doctest: +SKIP
>>> ws.registry.set_alias("digits-clf", "champion", v.version)        # doctest: +SKIP
>>> model = ws.registry.load_model("digits-clf@champion")             # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from flywheel_ml.core.clock import utc_now
from flywheel_ml.core.events import EventLog
from flywheel_ml.core.identity import current_actor
from flywheel_ml.core.lifecycle import Deliverable
from flywheel_ml.core.objects import ObjectStore
from flywheel_ml.errors import ConflictError, InvalidInputError, NotFoundError
from flywheel_ml.plan.entities import ProjectPage
from flywheel_ml.registry.aliases import check_move
from flywheel_ml.registry.card import ModelCardFacts, gather_card_facts
from flywheel_ml.registry.entities import AliasMove, BehaviourCase, Evaluation, ModelVersion
from flywheel_ml.registry.evaluation import EvaluationOptions, SealedData, run_evaluation
from flywheel_ml.registry.evidence import registry_deliverables
from flywheel_ml.registry.export import OnnxExport, export_detail, export_onnx
from flywheel_ml.registry.gates import new_case, read_case_rows
from flywheel_ml.registry.kernels import LinearKernel, kernel_for
from flywheel_ml.registry.store import RegistryStore
from flywheel_ml.registry.versions import (
    check_alias,
    check_model_name,
    feature_names_of,
    open_safely,
    parse_version,
    resolve,
    version_maker,
)
from flywheel_ml.track.entities import Artifact, Run

if TYPE_CHECKING:
    import pandas as pd


class RunSource(Protocol):
    """What registration needs from the track stage (``ws.track`` satisfies it)."""

    def get_run(self, run_id: str) -> Run:
        """The run with this id or unique prefix."""
        ...

    def artifact(self, run_id: str, name: str) -> Artifact:
        """One artifact of a run."""
        ...


class RegistryStage:
    """Model versions of one workspace, their gated evaluations and aliases.

    Args:
        store: where versions, aliases, evaluations and cases are kept.
        objects: the object store holding model files (and behavioural case items).
        runs: the track stage (runs and their artifacts).
        data: the data stage (audited sealed-test reads, slices, extra test sets); None makes
            :meth:`evaluate` unavailable.
        page: returns the current project page (objective and constraints).
        events: the workspace activity log.
    """

    def __init__(
        self,
        store: RegistryStore,
        *,
        objects: ObjectStore,
        runs: RunSource,
        data: SealedData | None,
        page: Callable[[], ProjectPage],
        events: EventLog | None = None,
    ) -> None:
        self.store = store
        self.objects = objects
        self._runs = runs
        self._data = data
        self._page = page
        self._events = events

    # -- versions ------------------------------------------------------------------------------

    def register(
        self,
        run_id: str,
        *,
        name: str,
        artifact: str = "model",
        description: str = "",
        trusted: Sequence[str] = (),
    ) -> ModelVersion:
        """Register the model a finished run logged as a new version of ``name``.

        The model's bytes are checked before anything is written: a pickle, a file that is not
        skops, or a skops file holding a type that is neither trusted by default nor named in
        ``trusted`` is refused, and nothing is registered.

        Raises:
            InvalidInputError: a bad name, or the artifact is not a model.
            NotFoundError: no such run or artifact.
            ConflictError: the run has not finished.
            UnsafeModelError: the model is not in a safe format or holds untrusted types.
        """
        check_model_name(name)
        run = self._runs.get_run(run_id)
        if run.status != "finished":
            raise ConflictError(
                f"run {run.short_id} is {run.status}, not finished",
                hint="register models of finished runs only",
            )
        found = self._runs.artifact(run.id, artifact)
        if found.kind != "model":
            raise InvalidInputError(
                f"artifact {artifact!r} of run {run.short_id} is a {found.kind}, not a model",
                hint="name an artifact logged with run.log_model (--artifact NAME)",
            )
        data = self.objects.get_bytes(found.digest)
        estimator = open_safely(data, trusted=trusted)
        dataset = run.datasets[0] if run.datasets else ""
        features = feature_names_of(estimator, dataset_columns=self._feature_columns(dataset))
        make = version_maker(
            name, run, found, data, estimator,
            features=features, trusted=trusted, description=description,
            actor=current_actor(), at=utc_now(),
            kernel=kernel_for(estimator, features, store=self.objects),
        )  # fmt: skip
        version = self.store.add_version(make)
        self._record("version.registered", version.ref, {"run": run.id, "dataset": dataset})
        return version

    def load_kernel(self, version: ModelVersion) -> LinearKernel | None:
        """The serving kernel saved with ``version``, or None when it has none."""
        if version.kernel_digest is None:
            return None
        return LinearKernel.from_bytes(self.objects.get_bytes(version.kernel_digest))

    def _feature_columns(self, dataset: str) -> list[str]:
        if not dataset or self._data is None:
            return []
        facts = self._data.get_version(dataset).facts
        skip = {facts.get("label"), facts.get("id_column")}
        columns = facts.get("schema", {}).get("columns", {})
        return [str(c) for c in columns if c not in skip and not str(c).startswith("__")]

    def get_version(self, ref: str) -> ModelVersion:
        """The version ``ref`` names: ``name@v3``, ``name@<alias>`` or ``name`` (its latest).

        Raises:
            InvalidInputError: a malformed reference.
            NotFoundError: no such model, version or alias.
        """
        return resolve(self.store, ref)

    def list_versions(
        self, name: str | None = None, *, include_deleted: bool = False
    ) -> list[ModelVersion]:
        """Versions of one model (or all), by name and number."""
        found = self.store.list_versions(None if name is None else check_model_name(name))
        return found if include_deleted else [v for v in found if not v.deleted]

    def load_model(self, ref: str, *, trusted: Sequence[str] = ()) -> Any:
        """The fitted estimator of the version ``ref`` names (aliases resolve).

        The types trusted at registration are trusted again; ``trusted`` adds more.

        Raises:
            NotFoundError: no such version, or it was deleted.
            UnsafeModelError: the stored bytes hold untrusted types.
        """
        version = self.get_version(ref)
        if version.deleted:
            raise NotFoundError(
                f"{version.ref} was deleted", hint="load another version of the model"
            )
        data = self.objects.get_bytes(version.artifact_digest)
        return open_safely(data, trusted=[*version.trusted, *trusted])

    def delete_version(self, ref: str, *, reason: str = "") -> ModelVersion:
        """Delete a version: it can no longer be loaded or aliased; its record, evaluations and
        alias history stay for the audit.

        Raises:
            ConflictError: an alias still points at it, or it is already deleted.
        """
        version = self.get_version(ref)
        if version.deleted:
            raise ConflictError(f"{version.ref} is already deleted", hint="nothing to do")
        pointing = [a for a, v in self.store.aliases(version.name).items() if v == version.version]
        if pointing:
            raise ConflictError(
                f"{version.ref} is still {', '.join(pointing)}",
                hint="move or remove those aliases first (flywheel registry alias ...)",
            )
        self.store.set_deleted(version.name, version.version, at=utc_now(), actor=current_actor())
        self._record("version.deleted", version.ref, {"reason": reason})
        return self.get_version(version.ref)

    # -- evaluation ----------------------------------------------------------------------------

    def evaluate(
        self,
        ref: str,
        *,
        reason: str = "release evaluation",
        confidence: float = 0.5,
        tolerance: float = 0.0,
        dataset: str | None = None,
    ) -> Evaluation:
        """Evaluate a version on the sealed test set and keep the record.

        Reads the test split of the version's dataset (or ``dataset``) through the audited read
        (one audit record names the version and ``reason``), measures the objective and every
        constraint metric, per slice and per extra test set, and judges them against the
        project page, the champion (no regression beyond ``tolerance``) and the model's
        behavioural cases.

        Raises:
            InvalidInputError: bad options, or data that cannot be scored (see the message).
            NotFoundError: no such version or dataset.
        """
        if not 0.0 < confidence < 1.0:
            raise InvalidInputError(
                f"confidence must be between 0 and 1, not {confidence}", hint="e.g. 0.5"
            )
        if tolerance < 0:
            raise InvalidInputError(f"tolerance must be >= 0, not {tolerance}", hint="e.g. 0.01")
        if not reason.strip():
            raise InvalidInputError("an evaluation needs a reason", hint='--reason "why"')
        if self._data is None:
            raise InvalidInputError(
                "this workspace has no data stage to read the sealed test set from",
                hint="open the workspace with open_workspace()",
            )
        version = self.get_version(ref)
        estimator = self.load_model(version.ref)
        cases = [(c, self.case_rows(c)) for c in self.store.list_cases(version.name)]
        evaluation = run_evaluation(
            version,
            estimator,
            data=self._data,
            page=self._page(),
            champion=self._champion_evaluation(version),
            cases=cases,
            options=EvaluationOptions(
                reason=reason.strip(), confidence=confidence, tolerance=tolerance, dataset=dataset
            ),
            actor=current_actor(),
            at=utc_now(),
        )
        self.store.add_evaluation(evaluation)
        self._record(
            "version.evaluated",
            version.ref,
            {"passed": evaluation.passed, "failed": list(evaluation.failed), "id": evaluation.id},
        )
        return evaluation

    def _champion_evaluation(self, version: ModelVersion) -> Evaluation | None:
        number = self.store.aliases(version.name).get("champion")
        if number is None or number == version.version:
            return None
        return self.latest_evaluation(f"{version.name}@v{number}")

    def evaluations(self, ref: str) -> list[Evaluation]:
        """Every evaluation of a version, oldest first."""
        version = self.get_version(ref)
        return self.store.list_evaluations(version.name, version.version)

    def latest_evaluation(self, ref: str) -> Evaluation | None:
        """The newest evaluation of a version, or None."""
        found = self.evaluations(ref)
        return found[-1] if found else None

    # -- behavioural cases ---------------------------------------------------------------------

    def add_case(
        self,
        model: str,
        name: str,
        rows: pd.DataFrame,
        *,
        expect: str,
        min_score: float = 1.0,
        description: str = "",
    ) -> BehaviourCase:
        """Save a behavioural case: items (feature columns) the model must answer as expected.

        ``expect`` is a class label every item should get, or ``reject`` (the model should
        abstain: top probability below the evaluation's confidence threshold). Every later
        evaluation of ``model`` reports the case as a gate.

        Raises:
            InvalidInputError: a bad name, no items, or ``min_score`` outside 0..1.
        """
        case = new_case(
            check_model_name(model), check_model_name(name), rows, expect=expect,
            min_score=min_score, description=description, put_bytes=self.objects.put_bytes,
            actor=current_actor(), at=utc_now(),
        )  # fmt: skip
        self.store.put_case(case)
        self._record("case.saved", f"{model}/{name}", {"expect": case.expect, "rows": case.rows})
        return case

    def list_cases(self, model: str) -> list[BehaviourCase]:
        """The behavioural cases of a model, by name."""
        return self.store.list_cases(check_model_name(model))

    def case_rows(self, case: BehaviourCase) -> pd.DataFrame:
        """The items of a case."""
        return read_case_rows(self.objects.get_bytes(case.rows_digest))

    # -- aliases -------------------------------------------------------------------------------

    def set_alias(
        self,
        name: str,
        alias: str,
        version: int | str,
        *,
        reason: str = "",
        override: bool = False,
    ) -> AliasMove:
        """Point ``name@alias`` at a version (``3`` or ``v3``) and record the move.

        Raises:
            ConstraintViolationError: the version's newest evaluation failed a constraint or a
                gate (or ``champion`` was never evaluated), without ``override``.
            InvalidInputError: bad names, or ``override`` without a ``reason``.
            NotFoundError: no such version.
            ConflictError: the alias already points there.
        """
        check_alias(alias)
        target = self.get_version(f"{check_model_name(name)}@v{parse_version(version)}")
        newest = self.latest_evaluation(target.ref)
        check_move(alias, target, newest, override=override, reason=reason)
        if self.store.aliases(name).get(alias) == target.version:
            raise ConflictError(f"{name}@{alias} is {target.ref} already", hint="nothing to do")
        move = self.store.move_alias(
            name,
            alias,
            target.version,
            actor=current_actor(),
            at=utc_now(),
            reason=reason.strip(),
            override=override,
        )
        self._record("alias.moved", f"{name}@{alias}", _move_detail(move))
        return move

    def remove_alias(self, name: str, alias: str, *, reason: str = "") -> AliasMove:
        """Remove ``name@alias`` (the removal is kept in the history).

        Raises:
            NotFoundError: the alias does not exist.
        """
        check_alias(alias)
        if alias not in self.store.aliases(check_model_name(name)):
            raise NotFoundError(f"{name} has no alias {alias!r}", hint="nothing to remove")
        move = self.store.move_alias(
            name, alias, None, actor=current_actor(), at=utc_now(), reason=reason.strip(),
            override=False,
        )  # fmt: skip
        self._record("alias.removed", f"{name}@{alias}", _move_detail(move))
        return move

    def aliases(self, name: str) -> dict[str, int]:
        """The current aliases of a model: alias -> version number."""
        return self.store.aliases(check_model_name(name))

    def alias_history(self, name: str) -> list[AliasMove]:
        """Every alias move of a model (who, when, from, to, why), oldest first."""
        return self.store.alias_history(check_model_name(name))

    # -- export --------------------------------------------------------------------------------

    def export_onnx(self, ref: str, *, rows: int = 200) -> tuple[OnnxExport, bytes]:
        """Convert a version to ONNX, time both formats on ``rows`` training rows, record it.

        The ONNX bytes are kept in the object store; the latencies and the agreement of the two
        formats are recorded in the activity log (``version.exported``).

        Raises:
            InvalidInputError: the model cannot be converted, or there is no data to time it on.
        """
        version = self.get_version(ref)
        estimator = self.load_model(version.ref)
        if self._data is None or not version.dataset:
            raise InvalidInputError(
                f"{version.ref} records no dataset to time the export on",
                hint="register a model from a run that used a dataset version",
            )
        frame = self._data.load(version.dataset, split="train")
        X = frame[list(version.feature_names)].head(max(rows, 1)).to_numpy(dtype="float64")
        export, data = export_onnx(version, estimator, X, put_bytes=self.objects.put_bytes)
        self._record("version.exported", version.ref, export_detail(export))
        return export, data

    # -- model card ----------------------------------------------------------------------------

    def card_facts(self, ref: str) -> ModelCardFacts:
        """The recorded facts a model card shows for the version ``ref`` names."""
        return gather_card_facts(
            self.get_version(ref), store=self.store, runs=self._runs, data=self._data,
            page=self._page(),
        )  # fmt: skip

    # -- status --------------------------------------------------------------------------------

    def deliverables(self) -> tuple[Deliverable, ...]:
        """The registry stage's evidence for ``status``."""
        versions = self.list_versions()
        champions = [
            f"{n}@v{v}"
            for n in sorted({v.name for v in versions})
            for a, v in self.store.aliases(n).items()
            if a == "champion"
        ]
        return registry_deliverables(
            versions,
            self.store.list_evaluations() if versions else [],
            champions=champions,
            test_reads=len(self._data.audit()) if self._data is not None and versions else 0,
        )

    def _record(self, kind: str, subject: str, detail: dict[str, object]) -> None:
        if self._events is not None:
            self._events.record(stage="registry", kind=kind, subject=subject, detail=detail)


def _move_detail(move: AliasMove) -> dict[str, object]:
    return {
        "from": move.from_version,
        "to": move.to_version,
        "reason": move.reason,
        "override": move.override,
    }
