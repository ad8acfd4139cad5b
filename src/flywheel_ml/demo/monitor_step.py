"""The demo's monitor step: drifted production traffic, alerts, and one turn of the flywheel.

Everything that would come from the outside world is SIMULATED and says so: the production
traffic (training scans with a few pixels brightened, as if a new scanner were installed, written
to the prediction log the way the gateway writes it) and the annotators (they answer with the
scans' true digits).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import numpy as np

from flywheel_ml.core.ids import new_id
from flywheel_ml.errors import FlywheelError
from flywheel_ml.monitor.feedback import FeedbackOptions
from flywheel_ml.serve.predlog import LogEntry, PredictionLog
from flywheel_ml.workspace import Workspace

MODEL = "digits-clf"
_BRIGHTER = ("px19", "px20", "px27", "px28", "px35", "px36")
_ROWS = 400


def _simulated_traffic(ws: Workspace, seed: int = 7) -> dict[str, Any]:
    """Log SIMULATED production requests (one row each); returns request id -> true digit."""
    import pandas as pd

    version = ws.registry.get_version(f"{MODEL}@champion")
    model = ws.registry.load_model(version.ref)
    frame = ws.data.load(version.dataset, split="train")
    features = list(version.feature_names)
    label = ws.data.get_version(version.dataset).facts.get("label")
    rng = np.random.default_rng(seed)
    picked = frame.iloc[rng.integers(0, len(frame), size=_ROWS)]
    X = np.array(picked[features].to_numpy(dtype=np.float64))
    columns = [features.index(c) for c in _BRIGHTER if c in features]
    X[:, columns] = np.clip(X[:, columns] + 6.0, 0, 16)
    named = getattr(model, "feature_names_in_", None) is not None
    fed = pd.DataFrame(X, columns=features) if named else X
    predictions = model.predict(fed)
    probabilities = model.predict_proba(fed) if hasattr(model, "predict_proba") else None
    champion = ws.serve.get(MODEL).champion
    log = PredictionLog(ws.serve.log_dir, max_part_age_s=3600)
    truth = {}
    now = time.time()
    for i in range(len(X)):
        rid = new_id()
        value = picked[label].iat[i]
        truth[rid] = value.item() if hasattr(value, "item") else value  # plain JSON types
        log.append(
            LogEntry(at=now, request_id=rid, model=MODEL, version=champion, key=None,
                     latency_ms=0.0, inputs=X[i : i + 1], predictions=predictions[i : i + 1],
                     probabilities=None if probabilities is None else probabilities[i : i + 1])
        )  # fmt: skip
    log.close()
    return truth


def monitor_step(ws: Workspace, say: Callable[[str], None]) -> list[tuple[str, str]]:
    """Drift of simulated shifted traffic, alert rules, feedback, simulated labels, one turn."""
    if not ws.registry.list_versions(MODEL) or "champion" not in ws.registry.aliases(MODEL):
        say("9 monitor: skipped (no champion)")
        return []
    try:
        ws.serve.get(MODEL)
    except FlywheelError:
        say("9 monitor: skipped (nothing deployed)")
        return []
    started = time.time()
    truth = _simulated_traffic(ws)
    # Only the simulated requests go back to labelling (the serve step's requests have no
    # simulated ground truth).
    window = timedelta(seconds=time.time() - started + 1.0)
    say(f"9 monitor: {_ROWS} SIMULATED production requests logged (a 'new scanner' brightens "
        f"pixels {', '.join(_BRIGHTER)})")  # fmt: skip
    report = ws.monitor.drift(MODEL)
    from flywheel_ml.monitor.drift_html import render_drift_html

    html = ws.root / "docs" / "drift.html"
    html.parent.mkdir(exist_ok=True)
    html.write_text(render_drift_html(report, title=f"Drift of {MODEL}"), encoding="utf-8")
    features = [c.column for c in report.columns if c.drifted and c.role == "feature"]
    psi = report.column("prediction").psi
    say(f"  drift vs {report.reference}: {len(features)} feature(s) flagged "
        f"({', '.join(features[:8])}); prediction PSI {psi:.3f}; report {html}")  # fmt: skip
    ws.monitor.add_rule("psi(feature=*) > 0.2", model=MODEL)
    ws.monitor.add_rule("age(champion) > 30d", model=MODEL)
    checked = ws.monitor.check()
    fired = "; ".join(a.message for a in checked.alerts)
    say(f"  monitor check: {len(checked.evaluations)} rule(s) evaluated, "
        f"{len(checked.alerts)} alert(s): {fired}")  # fmt: skip
    options = FeedbackOptions(low_confidence=0.7, sample=20, limit=120)
    queue, chosen, _ = ws.monitor.feedback(MODEL, options=options, since=window)
    say(f"  feedback: {len(chosen)} doubtful production item(s) -> label queue {queue}")
    labelled = 0
    for task in ws.label.tasks(queue):
        if task.status == "open" and task.item in truth:  # the simulated requests only
            ws.label.submit(queue, task.item, "simulated-annotator", truth[task.item])
            labelled += 1
    say(f"  SIMULATED annotators labelled {labelled} item(s) with their true digits")
    turn = ws.monitor.turn(MODEL, options=options, tolerance=0.02, since=window, say=say)
    change = ""
    if turn.before is not None and turn.after is not None:
        change = f"; {turn.objective} {turn.before:.4f} -> {turn.after:.4f}"
    say(f"  turn of the flywheel: {turn.status}{change}")
    return [
        ("drift report", str(html)),
        ("alerts", f"flywheel -C {ws.root} monitor alerts"),
    ]
