"""Checking the alert rules: measure what each rule compares for each model it watches,
record every evaluation, fire and deliver the alerts whose condition holds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from flywheel_ml.core.clock import utc_now
from flywheel_ml.core.ids import new_id
from flywheel_ml.errors import InvalidInputError, NotFoundError
from flywheel_ml.monitor.entities import Alert, Rule, RuleEvaluation
from flywheel_ml.monitor.rules import ParsedRule, parse_rule

if TYPE_CHECKING:
    from flywheel_ml.monitor.stage import MonitorStage

PREDICTION = "prediction"
"""The column of a model's answers, in the log and in its reference binning."""


@dataclass(frozen=True, slots=True)
class CheckResult:
    """What one ``check`` did: every evaluation and the alerts that fired."""

    evaluations: tuple[RuleEvaluation, ...]
    alerts: tuple[Alert, ...]

    @property
    def fired(self) -> bool:
        """Whether any alert fired."""
        return bool(self.alerts)


def run_check(monitor: MonitorStage, *, now: datetime | None = None) -> CheckResult:
    """Evaluate every rule for every model it watches, record the evaluations, fire and
    deliver alerts. A rule that cannot be measured (no log, no labels) is recorded with no
    value and does not fire."""
    at = now or utc_now()
    evaluations: list[RuleEvaluation] = []
    alerts: list[Alert] = []
    for rule in monitor.store.list_rules():
        parsed = parse_rule(rule.expression)
        for model in _models_for(monitor, rule):
            try:
                value, detail = measure(monitor, parsed, model, now=at)
            except (InvalidInputError, NotFoundError) as exc:
                value, detail = None, {"error": str(exc)}
            fired = value is not None and parsed.holds(value)
            evaluation = RuleEvaluation(new_id(), rule.id, model, at, value, fired, detail)
            evaluations.append(evaluation)
            if fired:
                assert value is not None
                message = f"{model}: {parsed.describe(value)} (rule {rule.expression!r})"
                alerts.append(_fire(monitor, rule, evaluation, message))
    monitor.store.record_check(evaluations, alerts)
    if alerts:
        monitor.record_event("alerts.fired", "check", {"alerts": [a.message for a in alerts]})
    return CheckResult(tuple(evaluations), tuple(alerts))


def measure(
    monitor: MonitorStage, parsed: ParsedRule, model: str, *, now: datetime | None = None
) -> tuple[float | None, dict[str, Any]]:
    """The value a rule compares for ``model`` and what it was measured on."""
    at = now or utc_now()
    window = timedelta(seconds=parsed.window_s)
    if parsed.metric == "age":
        version = monitor.registry.get_version(f"{model}@{parsed.target}")
        days = (at - version.created_at).total_seconds() / 86400.0
        return days, {"version": version.ref, "registered": version.created_at.isoformat()}
    if parsed.metric == "live_accuracy":
        live = monitor.live_accuracy(model, window=window, now=at)
        return live.accuracy, {"labelled_rows": live.labelled_rows, "logged": live.logged_rows}
    if parsed.metric == "disagreement":
        status = monitor.serve.status(model, since=window)
        for d in status.disagreements:
            if d.role == parsed.target:
                return d.disagree_rate, {"version": d.ref, "rows": d.rows}
        return None, {"reason": f"no {parsed.target}"}
    return _measure_drift(monitor, parsed, model, window=window, now=at)


def _measure_drift(
    monitor: MonitorStage, parsed: ParsedRule, model: str, *, window: timedelta, now: datetime
) -> tuple[float | None, dict[str, Any]]:
    report = monitor.drift(model, since=window, now=now)
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


def _fire(monitor: MonitorStage, rule: Rule, evaluation: RuleEvaluation, message: str) -> Alert:
    payload = {
        "alert": message, "model": evaluation.model, "rule": rule.expression,
        "rule_id": rule.id, "value": evaluation.value, "at": evaluation.at.isoformat(),
        "detail": dict(evaluation.detail),
    }  # fmt: skip
    deliveries: dict[str, str] = {}
    for channel in rule.notify:
        if monitor.deliver is None:
            deliveries[channel] = "no notifier configured"
            continue
        try:
            monitor.deliver(channel, payload)
            deliveries[channel] = "ok"
        except Exception as exc:
            deliveries[channel] = f"failed: {exc}"[:300]
    return Alert(new_id(), rule.id, evaluation.id, evaluation.model, evaluation.at, message,
                 deliveries)  # fmt: skip


def _models_for(monitor: MonitorStage, rule: Rule) -> list[str]:
    if rule.model is not None:
        return [rule.model]
    return [d.model for d in monitor.serve.list_deployments()]
