"""The monitor stage's verbs: drift, rules, check, delayed labels, live accuracy."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from flywheel_ml.core.clock import utc_now
from flywheel_ml.core.events import EventLog
from flywheel_ml.core.identity import current_actor
from flywheel_ml.core.ids import new_id
from flywheel_ml.core.lifecycle import Deliverable
from flywheel_ml.core.objects import ObjectStore
from flywheel_ml.data.stage import DataStage
from flywheel_ml.errors import FlywheelError, InvalidInputError, NotFoundError
from flywheel_ml.label.stage import LabelStage
from flywheel_ml.monitor import checks, delayed_labels
from flywheel_ml.monitor.binning import ReferenceBinning, fit_binning
from flywheel_ml.monitor.checks import PREDICTION, CheckResult
from flywheel_ml.monitor.delayed_labels import LiveAccuracy
from flywheel_ml.monitor.drift import DriftCounter, DriftOptions, DriftReport, Role, compare
from flywheel_ml.monitor.entities import (
    Alert,
    Rule,
    RuleEvaluation,
    StoredBinning,
    Turn,
)
from flywheel_ml.monitor.feedback import FeedbackOptions, Selected, queue_feedback, select_feedback
from flywheel_ml.monitor.logscan import feature_batch, log_parts, scan_log
from flywheel_ml.monitor.rules import ParsedRule, parse_rule
from flywheel_ml.monitor.store import MonitorStore
from flywheel_ml.monitor.turn import Say, TurnRecorder, run_turn
from flywheel_ml.registry.entities import ModelVersion
from flywheel_ml.registry.stage import RegistryStage
from flywheel_ml.serve.stage import ServeStage
from flywheel_ml.track.stage import TrackStage

if TYPE_CHECKING:
    pass

PartsMapper = Callable[[Callable[[Path], DriftCounter], Sequence[Path]], Iterable[DriftCounter]]
"""Runs a per-part counting function over log parts (e.g. on Dask) and returns the counters."""

Deliver = Callable[[str, dict[str, Any]], None]
"""Sends one alert payload to one channel (``log``, ``webhook:<url>``); raises on failure."""

LABEL = "label"


class MonitorStage:
    """Watches deployed models: drift against the training data, staleness, live accuracy.

    Args:
        store: rules, evaluations, alerts, binnings, delayed labels.
        objects: where reference binnings are kept.
        data: to read reference dataset versions.
        registry: model versions and aliases (feature names, training data, age).
        serve: deployments and the prediction log.
        label: label queues (where production items go back to) and ``label apply``.
        track: runs, for retraining in a turn.
        deliver: sends alerts to channels (wired by the workspace).
        events: the workspace activity log.
    """

    def __init__(
        self,
        store: MonitorStore,
        *,
        objects: ObjectStore,
        data: DataStage,
        registry: RegistryStage,
        serve: ServeStage,
        label: LabelStage | None = None,
        track: TrackStage | None = None,
        deliver: Deliver | None = None,
        events: EventLog | None = None,
    ) -> None:
        self.store = store
        self.objects = objects
        self.data = data
        self.registry = registry
        self.serve = serve
        self.label = label
        self.track = track
        self.deliver = deliver
        self._events = events

    # -- drift ---------------------------------------------------------------------------------

    def reference_binning(
        self, reference: str, *, columns: Sequence[str], label: str | None = None
    ) -> ReferenceBinning:
        """The binning of ``columns`` (and the label as ``prediction``/``label``) of a dataset
        version, computed on first use and then read from the object store.

        Raises:
            NotFoundError: no such dataset version.
            InvalidInputError: the version lacks some of the columns.
        """
        version = self.data.get_version(reference)
        label = label or version.facts.get("label")
        key_text = "\n".join([*columns, f"label={label}"])
        key = hashlib.blake2b(key_text.encode(), digest_size=16).hexdigest()
        stored = self.store.get_binning(str(version.digest), key)
        if stored is not None:
            return ReferenceBinning.from_bytes(self.objects.get_bytes(stored.object_digest))
        table = self.data.load(version.ref, as_arrow=True)
        missing = [c for c in columns if c not in table.column_names]
        if missing:
            raise InvalidInputError(
                f"{version.ref} has no column(s) {', '.join(missing[:5])}",
                hint="monitor against the dataset version the model was trained on",
            )
        arrays: dict[str, Any] = {
            c: table[c].to_numpy(zero_copy_only=False).astype(np.float64) for c in columns
        }
        categorical = []
        if label and label in table.column_names:
            labels = table[label]
            arrays[PREDICTION] = labels
            arrays[LABEL] = labels
            categorical = [PREDICTION, LABEL]
        binning = fit_binning(arrays, reference=version.ref, categorical=categorical)
        digest = self.objects.put_bytes(binning.to_bytes())
        self.store.put_binning(StoredBinning(str(version.digest), key, digest, utc_now()))
        return binning

    def model_version(self, model: str) -> ModelVersion:
        """The version serving as ``model``'s champion (alias, else the deployment's)."""
        try:
            return self.registry.get_version(f"{model}@champion")
        except NotFoundError:
            return self.registry.get_version(self.serve.get(model).champion)

    def drift(
        self,
        model: str,
        *,
        reference: str | None = None,
        since: timedelta | None = timedelta(hours=24),
        options: DriftOptions | None = None,
        map_parts: PartsMapper | None = None,
        now: datetime | None = None,
    ) -> DriftReport:
        """Drift of ``model``'s logged inputs, predictions and delayed labels against a reference.

        The reference defaults to the dataset version the champion was trained on. Features are
        compared one by one (KS, Wasserstein, PSI); predictions and delayed labels against the
        reference's labels (chi-square, PSI). The log is read part by part and batch by batch;
        ``map_parts`` runs the parts elsewhere (Dask) and the counts are merged.

        Raises:
            NotFoundError: no such model, champion or reference.
            InvalidInputError: nothing logged in the window.
        """
        version = self.model_version(model)
        ref = reference or version.dataset
        if not ref:
            raise InvalidInputError(
                f"{version.ref} records no training dataset", hint="pass --reference DATASET@vN"
            )
        features = list(version.feature_names)
        binning = self.reference_binning(ref, columns=features)
        start = None if since is None else (now or utc_now()) - since
        parts = log_parts(self.serve.log_dir, since=start)
        has_prediction = PREDICTION in binning.columns
        columns = [*features, PREDICTION] if has_prediction else features
        roles: dict[str, Role] = {PREDICTION: "prediction", LABEL: "label"}

        def count_part(path: Path) -> DriftCounter:
            counter = DriftCounter(binning, columns=columns, roles=roles)
            for table in scan_log([path], model=model, since=start):
                counter.add(feature_batch(table, features))
            return counter

        if map_parts is None:
            counters: Iterable[DriftCounter] = (count_part(p) for p in parts)
        else:
            counters = map_parts(count_part, parts)
        total = DriftCounter(binning, columns=columns, roles=roles)
        for counter in counters:
            total.merge(counter)
        if total.rows == 0:
            raise InvalidInputError(
                f"no logged predictions of {model} in the window",
                hint="serve traffic first (flywheel serve start) or widen --since",
            )
        if has_prediction and LABEL in binning.columns:
            labels = delayed_labels.labels_in_window(self, model, start)
            if labels:
                total.roles[LABEL] = "label"
                total.add_column(LABEL, np.asarray(labels, dtype=object))
        return compare(total, options=options)

    def drift_table(
        self,
        table: Any,
        *,
        reference: str,
        columns: Sequence[str] | None = None,
        options: DriftOptions | None = None,
    ) -> DriftReport:
        """Drift of any Arrow table (or DataFrame) against a dataset version, by column name."""
        import pyarrow as pa

        if not isinstance(table, pa.Table):
            table = pa.Table.from_pandas(table, preserve_index=False)
        version = self.data.get_version(reference)
        skip = {version.facts.get("label"), version.facts.get("id_column")}
        names = list(columns or [c for c in table.column_names if c not in skip])
        binning = self.reference_binning(reference, columns=names)
        counter = DriftCounter(binning, columns=names)
        for batch in table.to_batches(max_chunksize=262_144):
            counter.add(batch)
        return compare(counter, options=options)

    # -- delayed labels and live accuracy ------------------------------------------------------

    def import_labels(self, source: str | Path | io.TextIOBase) -> int:
        """Import ground truth that arrived later: CSV with ``request_id``, ``label`` and an
        optional ``row`` (default 0). Everything is validated before anything is written.

        Raises:
            InvalidInputError: a missing column, an empty file or a bad row number.
        """
        return delayed_labels.import_delayed_labels(self, source)

    def live_accuracy(
        self, model: str, *, window: timedelta = timedelta(days=7), now: datetime | None = None
    ) -> LiveAccuracy:
        """Accuracy of ``model``'s logged answers whose delayed labels arrived in the window."""
        return delayed_labels.live_accuracy(self, model, window=window, now=now)

    # -- rules, checks, alerts -----------------------------------------------------------------

    def add_rule(
        self, expression: str, *, model: str | None = None, notify: Sequence[str] = ("log",)
    ) -> Rule:
        """Store a rule after checking its grammar and its notification channels.

        Raises:
            InvalidInputError: the rule or a channel is malformed.
        """
        parse_rule(expression)
        for channel in notify:
            if channel != "log" and not (
                channel.startswith("webhook:http://") or channel.startswith("webhook:https://")
            ):
                raise InvalidInputError(
                    f"unknown notification channel {channel!r}",
                    hint="use log or webhook:http://host:port/path",
                )
        rule = Rule(new_id(), expression.strip(), model, tuple(notify) or ("log",),
                    current_actor(), utc_now())  # fmt: skip
        self.store.add_rule(rule)
        self.record_event("rule.added", rule.id, {"expression": rule.expression, "model": model})
        return rule

    def list_rules(self) -> list[Rule]:
        """Every rule, oldest first."""
        return self.store.list_rules()

    def remove_rule(self, rule_id: str) -> Rule:
        """Delete a rule (its evaluations and alerts stay).

        Raises:
            NotFoundError: no such rule.
        """
        rule = self.store.get_rule(rule_id)
        if rule is None or not self.store.delete_rule(rule.id):
            raise NotFoundError(f"no rule {rule_id!r}", hint="see `flywheel monitor rules list`")
        self.record_event("rule.removed", rule.id, {"expression": rule.expression})
        return rule

    def measure(
        self, parsed: ParsedRule, model: str, *, now: datetime | None = None
    ) -> tuple[float | None, dict[str, Any]]:
        """The value a rule compares for ``model`` and what it was measured on."""
        return checks.measure(self, parsed, model, now=now)

    def check(self, *, now: datetime | None = None) -> CheckResult:
        """Evaluate every rule for every model it watches, record the evaluations, fire and
        deliver alerts. A rule that cannot be measured (no log, no labels) is recorded with no
        value and does not fire."""
        return checks.run_check(self, now=now)

    def alerts(self, *, model: str | None = None, limit: int = 100) -> list[Alert]:
        """Fired alerts, newest first."""
        return self.store.list_alerts(model=model, limit=limit)

    def evaluations(self, *, rule_id: str | None = None, limit: int = 100) -> list[RuleEvaluation]:
        """Rule evaluations, newest first."""
        return self.store.list_evaluations(rule_id=rule_id, limit=limit)

    # -- feedback and turns ----------------------------------------------------------------

    def select_feedback(
        self,
        model: str,
        *,
        options: FeedbackOptions | None = None,
        since: timedelta | None = timedelta(days=7),
        now: datetime | None = None,
    ) -> list[Selected]:
        """Production rows of ``model`` worth labelling (see :mod:`flywheel_ml.monitor.feedback`).

        With ``options.drifted`` empty, the features the drift test flags are used.
        """
        opts = options or FeedbackOptions()
        version = self.model_version(model)
        start = None if since is None else (now or utc_now()) - since
        log = self.serve.read_log(since=start, model=model)
        if log.empty:
            return []
        binning = None
        if version.dataset:
            binning = self.reference_binning(version.dataset, columns=list(version.feature_names))
            if opts.use_drift and not opts.drifted:
                try:
                    report = self.drift(model, since=since, now=now)
                except InvalidInputError:
                    report = None
                if report is not None:
                    drifted = tuple(c.column for c in report.columns
                                    if c.drifted and c.role == "feature")  # fmt: skip
                    from dataclasses import replace

                    opts = replace(opts, drifted=drifted)
        return select_feedback(log, feature_names=version.feature_names, options=opts,
                               binning=binning)  # fmt: skip

    def feedback(
        self,
        model: str,
        *,
        queue: str | None = None,
        options: FeedbackOptions | None = None,
        since: timedelta | None = timedelta(days=7),
        now: datetime | None = None,
    ) -> tuple[str, list[Selected], int]:
        """Send doubtful production predictions of ``model`` to a label queue, each with the
        model's pre-label and its provenance ("from production, request id X").

        Returns:
            The queue name, the selected rows, and how many were new to the queue.

        Raises:
            NotFoundError: no label stage is wired, or no such model.
        """
        return queue_feedback(self, model, queue=queue, options=options, since=since, now=now)

    def label_stage(self) -> LabelStage:
        """The wired label stage.

        Raises:
            NotFoundError: none is wired.
        """
        if self.label is None:
            raise NotFoundError("no label stage is wired", hint="open the workspace normally")
        return self.label

    def turn(
        self,
        model: str,
        *,
        queue: str | None = None,
        options: FeedbackOptions | None = None,
        canary_percent: float = 10.0,
        min_labels: int = 1,
        tolerance: float = 0.0,
        since: timedelta | None = timedelta(days=7),
        say: Say | None = None,
    ) -> Turn:
        """One turn of the flywheel for ``model`` (see :mod:`flywheel_ml.monitor.turn`).

        New doubtful production items are queued first; the turn then goes on with the items
        annotators have labelled (at least ``min_labels``), or stops as ``waiting``. The new
        version must not fall more than ``tolerance`` below the champion on the sealed test set.
        ``since`` is the window of logged rows the new items are chosen from.

        Raises:
            NotFoundError: no champion, no label or track stage.
        """
        labels = self.label_stage()
        if self.track is None:
            raise NotFoundError("no track stage is wired", hint="open the workspace normally")
        name = queue or f"{model}-production"
        recorder = TurnRecorder(model, self.store.save_turn, say)
        try:
            turn = run_turn(
                model=model, queue=name, recorder=recorder,
                enqueue=lambda: self.feedback(model, queue=name, options=options, since=since)[2],
                label=labels, data=self.data, track=self.track, registry=self.registry,
                serve=self.serve, canary_percent=canary_percent, min_labels=min_labels,
                tolerance=tolerance,
            )  # fmt: skip
        except FlywheelError as exc:
            recorder.step("error", "failed", str(exc), error=type(exc).__name__)
            recorder.finish("failed")
            raise
        detail = {"turn": turn.id, "status": turn.status, "before": turn.before,
                  "after": turn.after}  # fmt: skip
        self.record_event("turn.finished", model, detail)
        return turn

    def turns(self, *, model: str | None = None, limit: int = 50) -> list[Turn]:
        """Turns of the flywheel, newest first."""
        return self.store.list_turns(model=model, limit=limit)

    # -- status --------------------------------------------------------------------------------

    def deliverables(self) -> tuple[Deliverable, ...]:
        """The monitor stage's evidence for ``status``."""
        rules = self.store.list_rules()
        items = []
        if rules:
            last = self.store.list_evaluations(limit=1)
            when = f", last check {last[0].at:%Y-%m-%d %H:%M} UTC" if last else ", never checked"
            items.append(Deliverable("alert rules", True, evidence=f"{len(rules)} rule(s){when}"))
        else:
            items.append(
                Deliverable("alert rules", False,
                            next_step='flywheel monitor rules add "psi(feature=*) > 0.2"')
            )  # fmt: skip
        fired = self.store.list_alerts(limit=1000)
        items.append(Deliverable("alerts", True, evidence=f"{len(fired)} fired"))
        return tuple(items)

    def record_event(self, kind: str, subject: str, detail: dict[str, Any]) -> None:
        """Add an entry to the workspace activity log (when one is wired)."""
        if self._events is not None:
            self._events.record(stage="monitor", kind=kind, subject=subject, detail=detail)
