"""The monitor stage's verbs: drift, rules, check, delayed labels, live accuracy."""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
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
from flywheel_ml.label.entities import QueueItem
from flywheel_ml.label.stage import LabelStage
from flywheel_ml.monitor.binning import ReferenceBinning, fit_binning
from flywheel_ml.monitor.drift import DriftCounter, DriftOptions, DriftReport, Role, compare
from flywheel_ml.monitor.entities import (
    Alert,
    DelayedLabel,
    Rule,
    RuleEvaluation,
    StoredBinning,
    Turn,
)
from flywheel_ml.monitor.feedback import FeedbackOptions, Selected, select_feedback
from flywheel_ml.monitor.logscan import feature_batch, log_parts, scan_log
from flywheel_ml.monitor.rules import ParsedRule, parse_rule
from flywheel_ml.monitor.store import MonitorStore
from flywheel_ml.monitor.turn import Say, TurnRecorder, run_turn
from flywheel_ml.registry.entities import ModelVersion
from flywheel_ml.registry.stage import RegistryStage
from flywheel_ml.serve.stage import ServeStage
from flywheel_ml.track.stage import TrackStage

if TYPE_CHECKING:
    import pandas as pd

PartsMapper = Callable[[Callable[[Path], DriftCounter], Sequence[Path]], Iterable[DriftCounter]]
"""Runs a per-part counting function over log parts (e.g. on Dask) and returns the counters."""

Deliver = Callable[[str, dict[str, Any]], None]
"""Sends one alert payload to one channel (``log``, ``webhook:<url>``); raises on failure."""

PREDICTION = "prediction"
LABEL = "label"


@dataclass(frozen=True, slots=True)
class CheckResult:
    """What one ``check`` did: every evaluation and the alerts that fired."""

    evaluations: tuple[RuleEvaluation, ...]
    alerts: tuple[Alert, ...]

    @property
    def fired(self) -> bool:
        """Whether any alert fired."""
        return bool(self.alerts)


@dataclass(frozen=True, slots=True)
class LiveAccuracy:
    """Accuracy on logged predictions whose delayed labels arrived."""

    model: str
    accuracy: float | None
    labelled_rows: int
    logged_rows: int


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
        self._deliver = deliver
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

    def _model_version(self, model: str) -> ModelVersion:
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
        version = self._model_version(model)
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
            labels = self._labels_in_window(model, start)
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
        if isinstance(source, str | Path):
            try:
                text = Path(source).read_text(encoding="utf-8")
            except OSError as exc:
                raise InvalidInputError(
                    f"cannot read {source}: {exc.strerror}", hint="give a CSV file path"
                ) from exc
        else:
            text = source.read()
        reader = csv.DictReader(io.StringIO(text))
        fields = set(reader.fieldnames or ())
        if not {"request_id", "label"} <= fields:
            raise InvalidInputError(
                "the label file needs the columns request_id and label",
                hint="header line: request_id,label[,row]",
            )
        at = utc_now()
        labels = []
        for n, rec in enumerate(reader, start=2):
            rid, label = (rec.get("request_id") or "").strip(), (rec.get("label") or "").strip()
            try:
                row = int(rec.get("row") or 0)
            except ValueError:
                raise InvalidInputError(
                    f"line {n}: row must be an integer", hint="e.g. 0"
                ) from None
            if not rid or not label:
                raise InvalidInputError(f"line {n}: empty request_id or label", hint="fill both")
            labels.append(DelayedLabel(rid[:64], row, label, at))
        if not labels:
            raise InvalidInputError("the label file has no rows", hint="add request_id,label rows")
        count = self.store.add_labels(labels)
        self._record("labels.imported", "delayed labels", {"rows": count})
        return count

    def _joined(self, model: str, start: datetime | None) -> pd.DataFrame:
        import pandas as pd

        log = self.serve.read_log(since=start, model=model)
        if log.empty:
            return log
        labels = self.store.get_labels(log["request_id"].unique().tolist())
        if not labels:
            return log.iloc[0:0]
        found = pd.DataFrame(
            {"request_id": [x.request_id for x in labels], "row": [x.row for x in labels],
             "true_label": [x.label for x in labels]}
        )  # fmt: skip
        log = log.assign(row=log["row"].astype(int))
        return log.merge(found, on=["request_id", "row"], how="inner")

    def _labels_in_window(self, model: str, start: datetime | None) -> list[str]:
        """Delayed labels of the logged rows in the window (reads two log columns only)."""
        if self.store.count_labels() == 0:
            return []
        found: list[str] = []
        parts = log_parts(self.serve.log_dir, since=start)
        for table in scan_log(parts, model=model, since=start, columns=("request_id", "row")):
            ids = table["request_id"].to_pylist()
            rows = table["row"].to_pylist()
            known = {(x.request_id, x.row): x.label for x in self.store.get_labels(list(set(ids)))}
            found.extend(known[k] for k in zip(ids, rows, strict=True) if k in known)
        return found

    def live_accuracy(
        self, model: str, *, window: timedelta = timedelta(days=7), now: datetime | None = None
    ) -> LiveAccuracy:
        """Accuracy of ``model``'s logged answers whose delayed labels arrived in the window."""
        start = (now or utc_now()) - window
        logged = len(self.serve.read_log(since=start, model=model))
        joined = self._joined(model, start)
        if joined.empty:
            return LiveAccuracy(model, None, 0, logged)
        correct = joined["prediction"].astype(str) == joined["true_label"].astype(str)
        return LiveAccuracy(model, float(correct.mean()), len(joined), logged)

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
        self._record("rule.added", rule.id, {"expression": rule.expression, "model": model})
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
        self._record("rule.removed", rule.id, {"expression": rule.expression})
        return rule

    def _models_for(self, rule: Rule) -> list[str]:
        if rule.model is not None:
            return [rule.model]
        return [d.model for d in self.serve.list_deployments()]

    def measure(
        self, parsed: ParsedRule, model: str, *, now: datetime | None = None
    ) -> tuple[float | None, dict[str, Any]]:
        """The value a rule compares for ``model`` and what it was measured on."""
        at = now or utc_now()
        window = timedelta(seconds=parsed.window_s)
        if parsed.metric == "age":
            version = self.registry.get_version(f"{model}@{parsed.target}")
            days = (at - version.created_at).total_seconds() / 86400.0
            return days, {"version": version.ref, "registered": version.created_at.isoformat()}
        if parsed.metric == "live_accuracy":
            live = self.live_accuracy(model, window=window, now=at)
            return live.accuracy, {"labelled_rows": live.labelled_rows, "logged": live.logged_rows}
        if parsed.metric == "disagreement":
            status = self.serve.status(model, since=window)
            for d in status.disagreements:
                if d.role == parsed.target:
                    return d.disagree_rate, {"version": d.ref, "rows": d.rows}
            return None, {"reason": f"no {parsed.target}"}
        return self._measure_drift(parsed, model, window=window, now=at)

    def _measure_drift(
        self, parsed: ParsedRule, model: str, *, window: timedelta, now: datetime
    ) -> tuple[float | None, dict[str, Any]]:
        report = self.drift(model, since=window, now=now)
        features = [c for c in report.columns if c.role == "feature"]
        if parsed.metric == "drifted":
            return float(sum(c.drifted for c in features)), {"drifted": list(report.drifted)}
        if parsed.target == PREDICTION:
            col = report.column(PREDICTION)
            return col.psi, {"column": PREDICTION, "rows": report.rows}
        pool = features if parsed.target == "*" else [report.column(parsed.target)]
        attr = "psi" if parsed.metric == "psi" else "effect"
        worst = max(pool, key=lambda c: float(getattr(c, attr)))
        return float(getattr(worst, attr)), {"column": worst.column, "rows": report.rows}

    def check(self, *, now: datetime | None = None) -> CheckResult:
        """Evaluate every rule for every model it watches, record the evaluations, fire and
        deliver alerts. A rule that cannot be measured (no log, no labels) is recorded with no
        value and does not fire."""
        at = now or utc_now()
        evaluations: list[RuleEvaluation] = []
        alerts: list[Alert] = []
        for rule in self.store.list_rules():
            parsed = parse_rule(rule.expression)
            for model in self._models_for(rule):
                try:
                    value, detail = self.measure(parsed, model, now=at)
                except (InvalidInputError, NotFoundError) as exc:
                    value, detail = None, {"error": str(exc)}
                fired = value is not None and parsed.holds(value)
                evaluation = RuleEvaluation(new_id(), rule.id, model, at, value, fired, detail)
                evaluations.append(evaluation)
                if fired:
                    assert value is not None
                    message = f"{model}: {parsed.describe(value)} (rule {rule.expression!r})"
                    alerts.append(self._fire(rule, evaluation, message))
        self.store.record_check(evaluations, alerts)
        if alerts:
            self._record("alerts.fired", "check", {"alerts": [a.message for a in alerts]})
        return CheckResult(tuple(evaluations), tuple(alerts))

    def _fire(self, rule: Rule, evaluation: RuleEvaluation, message: str) -> Alert:
        payload = {
            "alert": message, "model": evaluation.model, "rule": rule.expression,
            "rule_id": rule.id, "value": evaluation.value, "at": evaluation.at.isoformat(),
            "detail": dict(evaluation.detail),
        }  # fmt: skip
        deliveries: dict[str, str] = {}
        for channel in rule.notify:
            if self._deliver is None:
                deliveries[channel] = "no notifier configured"
                continue
            try:
                self._deliver(channel, payload)
                deliveries[channel] = "ok"
            except Exception as exc:
                deliveries[channel] = f"failed: {exc}"[:300]
        return Alert(new_id(), rule.id, evaluation.id, evaluation.model, evaluation.at, message,
                     deliveries)  # fmt: skip

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
        version = self._model_version(model)
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
        labels = self._label_stage()
        version = self._model_version(model)
        if not version.dataset:
            raise InvalidInputError(
                f"{version.ref} records no training dataset", hint="register models from runs"
            )
        dataset = version.dataset.split("@", 1)[0]
        name = queue or f"{model}-production"
        chosen = self.select_feedback(model, options=options, since=since, now=now)
        items = [
            QueueItem(item=s.item_id, data=s.features, prelabel=s.prediction,
                      confidence=s.confidence, provenance=s.provenance,
                      score=None if s.confidence is None else 1.0 - s.confidence)
            for s in chosen
        ]  # fmt: skip
        added = 0
        if items:
            added = labels.enqueue(
                name, items, dataset=dataset,
                description=f"production predictions of {model} chosen by flywheel monitor",
            )  # fmt: skip
        self._record("feedback.queued", name, {"model": model, "selected": len(chosen),
                                               "added": added})  # fmt: skip
        return name, chosen, added

    def _label_stage(self) -> LabelStage:
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
        labels = self._label_stage()
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
        self._record("turn.finished", model, detail)
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

    def _record(self, kind: str, subject: str, detail: dict[str, Any]) -> None:
        if self._events is not None:
            self._events.record(stage="monitor", kind=kind, subject=subject, detail=detail)
