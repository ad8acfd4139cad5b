"""``flywheel monitor``: drift against the training data, alert rules, checks, delayed labels."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from flywheel_ml.cli.context import emit, fail, open_ws

if TYPE_CHECKING:
    from rich.console import Console

    from flywheel_ml.monitor.drift import DriftReport
    from flywheel_ml.monitor.entities import Alert, Rule

app = typer.Typer(
    help="Drift of production inputs and predictions, alert rules (drift, staleness, live "
    "accuracy), checks that fire alerts, and ground truth that arrives later.",
    no_args_is_help=True,
)
rules_app = typer.Typer(help="Alert rules: add, list, remove.", no_args_is_help=True)
labels_app = typer.Typer(help="Delayed ground truth, joined to predictions by request id.",
                         no_args_is_help=True)  # fmt: skip
app.add_typer(rules_app, name="rules")
app.add_typer(labels_app, name="labels")

_WINDOW_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _window(text: str) -> timedelta | None:
    from flywheel_ml.errors import InvalidInputError

    if text.strip() in ("all", ""):
        return None
    match = _WINDOW_RE.match(text)
    if match is None:
        raise InvalidInputError(f"--since {text!r} is not a duration", hint="e.g. 24h, 7d, all")
    return timedelta(seconds=float(match[1]) * _UNITS[match[2]])


def report_json(report: DriftReport) -> dict[str, Any]:
    """A drift report as JSON-ready data."""
    return {
        "reference": report.reference,
        "rows": report.rows,
        "drifted": list(report.drifted),
        "options": {"alpha": report.options.alpha, "correction": report.options.correction,
                    "min_shift_sd": report.options.min_shift_sd,
                    "min_tvd": report.options.min_tvd},
        "columns": [
            {"column": c.column, "role": c.role, "test": c.test, "statistic": c.statistic,
             "p_value": c.p_value, "p_adjusted": c.p_adjusted, "psi": c.psi, "effect": c.effect,
             "drifted": c.drifted, "n_reference": c.n_reference, "n_current": c.n_current,
             "missing_current": c.missing_current}
            for c in report.columns
        ],
    }  # fmt: skip


@app.command("drift")
def drift_command(
    model: Annotated[str, typer.Argument(help="Deployed model name, e.g. digits-clf.")],
    reference: Annotated[
        str | None,
        typer.Option(
            help="Dataset version to compare with (default: the champion's training "
            "data), e.g. digits@v2."
        ),
    ] = None,
    since: Annotated[str, typer.Option(help="Window of logged rows: 24h, 7d, all.")] = "24h",
    alpha: Annotated[float, typer.Option(help="False-discovery rate across columns.")] = 0.05,
    correction: Annotated[str, typer.Option(help="bh (Benjamini-Hochberg) or bonferroni.")] = "bh",
    min_shift: Annotated[
        float, typer.Option(help="Smallest numeric shift flagged, in reference SDs.")
    ] = 0.1,
    min_tvd: Annotated[
        float, typer.Option(help="Smallest categorical change flagged (total variation).")
    ] = 0.05,
    html: Annotated[Path | None, typer.Option(help="Write the HTML report here.")] = None,
    dask: Annotated[bool, typer.Option("--dask", help="Count log parts on Dask.")] = False,
) -> None:
    """Per-feature PSI, KS and Wasserstein (chi-square for categories), prediction drift and
    label drift (when delayed labels arrived) of MODEL's logged traffic; exit 1 on drift."""
    from flywheel_ml.monitor.drift import DriftOptions
    from flywheel_ml.monitor.drift_html import render_drift_html

    options = DriftOptions(alpha=alpha, correction=correction,  # type: ignore[arg-type]
                           min_shift_sd=min_shift, min_tvd=min_tvd)  # fmt: skip
    mapper = None
    if dask:
        from flywheel_ml.backends.dask_parts import dask_map_parts

        mapper = dask_map_parts
    with open_ws() as ws:
        report = ws.monitor.drift(
            model, reference=reference, since=_window(since), options=options, map_parts=mapper
        )
    data = report_json(report)
    if html is not None:
        html.write_text(render_drift_html(report, title=f"Drift of {model}"), encoding="utf-8")
        data["html"] = str(html)

    def render(out: Console) -> None:
        from rich.table import Table

        table = Table("column", "role", "test", "stat", "p adj", "PSI", "effect", "verdict")
        for c in report.columns:
            verdict = "[bold red]drift[/]" if c.drifted else "ok"
            table.add_row(c.column, c.role, c.test, f"{c.statistic:.4g}", f"{c.p_adjusted:.3g}",
                          f"{c.psi:.3f}", f"{c.effect:.3f}", verdict)  # fmt: skip
        out.print(table)
        drifted = ", ".join(report.drifted) or "none"
        out.print(f"{report.rows:,} rows vs {report.reference}; drifted: {drifted}")
        if html is not None:
            out.print(f"report: {html}")

    emit(data, render)
    if report.drifted:
        fail(1)


def _rule_json(rule: Rule) -> dict[str, Any]:
    return {"id": rule.id, "expression": rule.expression, "model": rule.model,
            "notify": list(rule.notify), "created_by": rule.created_by,
            "created_at": rule.created_at.isoformat()}  # fmt: skip


@rules_app.command("add")
def rules_add_command(
    expression: Annotated[str, typer.Argument(help="e.g. 'psi(feature=*) > 0.2'.")],
    model: Annotated[str | None, typer.Option(help="Watch this model only.")] = None,
    notify: Annotated[
        list[str] | None, typer.Option(help="log or webhook:URL (repeatable).")
    ] = None,
) -> None:
    """Add an alert rule: psi(feature=NAME|*), shift(feature=...), drifted, age(ALIAS),
    live_accuracy [over 7d], disagreement(canary|shadow), compared with > >= < <=."""
    with open_ws() as ws:
        rule = ws.monitor.add_rule(expression, model=model, notify=notify or ["log"])
    emit(_rule_json(rule), lambda out: out.print(f"rule {rule.id[:12]}: {rule.expression}"))


@rules_app.command("list")
def rules_list_command() -> None:
    """Every rule with its latest evaluation."""
    with open_ws() as ws:
        rules = ws.monitor.list_rules()
        last = {r.id: ws.monitor.evaluations(rule_id=r.id, limit=1) for r in rules}
    data = [
        {**_rule_json(r), "last": None if not last[r.id] else
         {"at": last[r.id][0].at.isoformat(), "value": last[r.id][0].value,
          "fired": last[r.id][0].fired}}
        for r in rules
    ]  # fmt: skip

    def render(out: Console) -> None:
        if not rules:
            out.print('no rules; add one: flywheel monitor rules add "psi(feature=*) > 0.2"')
        for r in rules:
            ev = last[r.id]
            state = "never checked" if not ev else (
                f"{'FIRED' if ev[0].fired else 'ok'} ({ev[0].value}) at {ev[0].at:%Y-%m-%d %H:%M}"
            )  # fmt: skip
            scope = r.model or "all models"
            out.print(f"{r.id[:12]}  {r.expression}  [{scope}; {', '.join(r.notify)}]  {state}")

    emit(data, render)


@rules_app.command("remove")
def rules_remove_command(
    rule_id: Annotated[str, typer.Argument(help="Rule id (or its first 6+ characters).")],
) -> None:
    """Remove a rule (its evaluations and alerts are kept)."""
    with open_ws() as ws:
        rule = ws.monitor.remove_rule(rule_id)
    emit(_rule_json(rule), lambda out: out.print(f"removed rule {rule.id[:12]}"))


def _alert_json(alert: Alert) -> dict[str, Any]:
    return {"id": alert.id, "rule_id": alert.rule_id, "model": alert.model,
            "at": alert.at.isoformat(), "message": alert.message,
            "deliveries": dict(alert.deliveries)}  # fmt: skip


@app.command("check")
def check_command() -> None:
    """Evaluate every rule, record the evaluations, send alerts; exit 1 when any fired."""
    with open_ws() as ws:
        result = ws.monitor.check()
    data = {
        "evaluations": [
            {"rule_id": e.rule_id, "model": e.model, "value": e.value, "fired": e.fired,
             "detail": dict(e.detail)} for e in result.evaluations
        ],
        "alerts": [_alert_json(a) for a in result.alerts],
    }  # fmt: skip

    def render(out: Console) -> None:
        out.print(f"{len(result.evaluations)} evaluation(s), {len(result.alerts)} alert(s)")
        for a in result.alerts:
            sent = ", ".join(f"{k}: {v}" for k, v in a.deliveries.items())
            out.print(f"ALERT {a.message} [{sent}]")

    emit(data, render)
    if result.fired:
        fail(1)


@app.command("alerts")
def alerts_command(
    model: Annotated[str | None, typer.Option(help="Only this model.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 20,
) -> None:
    """Fired alerts, newest first."""
    with open_ws() as ws:
        found = ws.monitor.alerts(model=model, limit=limit)

    def render(out: Console) -> None:
        if not found:
            out.print("no alerts")
        for a in found:
            out.print(f"{a.at:%Y-%m-%d %H:%M}  {a.message}")

    emit([_alert_json(a) for a in found], render)


@labels_app.command("import")
def labels_import_command(
    path: Annotated[Path, typer.Argument(help="CSV with request_id,label[,row].")],
) -> None:
    """Import ground truth that arrived after the predictions (joined by request id)."""
    with open_ws() as ws:
        count = ws.monitor.import_labels(path)
    emit({"imported": count}, lambda out: out.print(f"imported {count} delayed label(s)"))


@app.command("accuracy")
def accuracy_command(
    model: Annotated[str, typer.Argument(help="Deployed model name.")],
    since: Annotated[str, typer.Option(help="Window: 7d, 24h, all.")] = "7d",
) -> None:
    """Live accuracy: logged answers whose delayed labels arrived."""
    with open_ws() as ws:
        window = _window(since) or timedelta(days=36500)
        live = ws.monitor.live_accuracy(model, window=window)
    data = {"model": live.model, "accuracy": live.accuracy, "labelled_rows": live.labelled_rows,
            "logged_rows": live.logged_rows}  # fmt: skip

    def render(out: Console) -> None:
        acc = "n/a" if live.accuracy is None else f"{live.accuracy:.4f}"
        out.print(f"{model}: live accuracy {acc} on {live.labelled_rows} labelled of "
                  f"{live.logged_rows} logged rows")  # fmt: skip

    emit(data, render)


@app.command("feedback")
def feedback_command(
    model: Annotated[str, typer.Argument(help="Deployed model name.")],
    low_confidence: Annotated[
        float | None, typer.Option(help="Select answers whose top probability is below this.")
    ] = 0.6,
    disagreement: Annotated[
        bool, typer.Option(help="Select rows where shadow/canary and champion disagree.")
    ] = True,
    drifted: Annotated[
        bool, typer.Option(help="Select rows in over-represented regions of drifted features.")
    ] = True,
    sample: Annotated[int, typer.Option(help="Random rows for calibration.")] = 0,
    limit: Annotated[int, typer.Option(help="At most this many items.")] = 1000,
    queue: Annotated[
        str | None, typer.Option(help="Label queue (default MODEL-production).")
    ] = None,
    since: Annotated[str, typer.Option(help="Window of logged rows: 7d, 24h, all.")] = "7d",
) -> None:
    """Send doubtful production predictions to a label queue, with the model's pre-label and
    the provenance "from production, request id X"."""
    from flywheel_ml.monitor.feedback import FeedbackOptions

    options = FeedbackOptions(low_confidence=low_confidence, disagreement=disagreement,
                              use_drift=drifted, sample=sample, limit=limit)  # fmt: skip
    with open_ws() as ws:
        name, chosen, added = ws.monitor.feedback(
            model, queue=queue, options=options, since=_window(since)
        )
    reasons: dict[str, int] = {}
    for s in chosen:
        for r in s.reasons:
            key = r.split(":")[0]
            reasons[key] = reasons.get(key, 0) + 1
    data = {"queue": name, "selected": len(chosen), "added": added, "reasons": reasons}
    emit(data, lambda out: out.print(
        f"{len(chosen)} production item(s) selected ({reasons}); {added} new in queue {name}"
    ))  # fmt: skip
