"""The demo's registry and serve steps: register the best run, prove it, ship it, roll back.

The gateway runs as its own ``flywheel serve start`` process on a free loopback port (the demo
sits beside the server layer and does not import it), exactly as a user would start it.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flywheel_ml.errors import FlywheelError, InvalidInputError
from flywheel_ml.track.models import untrusted_types
from flywheel_ml.workspace import Workspace

MODEL = "digits-clf"
# Generous: on a loaded CI machine the gateway process may take long to import and bind; a
# ready gateway is seen within 50 ms of being ready, so waiting longer costs nothing.
_READY_TIMEOUT_S = 90.0


def registry_step(ws: Workspace, say: Callable[[str], None]) -> list[tuple[str, str]]:
    """Register the two best runs' models, evaluate on the sealed test set, set the champion."""
    runs = _runs_with_models(ws)
    if not runs:
        say("7 registry: skipped (no run logged a model)")
        return []
    say(f"7 registry: registering the model of the best run ({runs[0][-8:]}) as {MODEL}")
    best = ws.registry.register(
        runs[0], name=MODEL, description="best run of the demo", trusted=_sklearn_types(ws, runs[0])
    )
    if best.trusted:
        say(f"  trusted scikit-learn's own {', '.join(t.rsplit('.', 1)[-1] for t in best.trusted)}")
    evaluation = ws.registry.evaluate(best.ref, reason="demo release evaluation")
    verdict = "passed" if evaluation.passed else "failed " + ", ".join(evaluation.failed)
    say(
        f"  sealed test set ({evaluation.rows} rows, audited): {evaluation.objective} "
        f"{evaluation.objective_value or 0:.4f}, latency p95 "
        f"{evaluation.metrics.get('latency_p95_ms', float('nan')):.2f} ms — {verdict}"
    )
    if evaluation.passed:
        ws.registry.set_alias(MODEL, "champion", best.version, reason="passed the release gates")
    else:
        ws.registry.set_alias(
            MODEL, "champion", best.version, override=True,
            reason="demo: shipping despite " + ", ".join(evaluation.failed),
        )  # fmt: skip
    say(f"  {MODEL}@champion -> {best.ref}")
    if len(runs) > 1:
        second = ws.registry.register(
            runs[1], name=MODEL, description="runner-up, for canary",
            trusted=_sklearn_types(ws, runs[1]),
        )  # fmt: skip
        ws.registry.set_alias(MODEL, "candidate", second.version, reason="canary candidate")
    from flywheel_ml.reports.model_card import write_model_card

    card = write_model_card(
        ws.registry.card_facts(best.ref), ws.root / "docs", readiness=ws.readiness(best.ref)
    )
    return [
        ("model card", str(card.markdown)),
        ("alias history", f"flywheel -C {ws.root} registry history {MODEL}"),
    ]


def serve_step(ws: Workspace, say: Callable[[str], None]) -> list[tuple[str, str]]:
    """Deploy the champion behind a gateway, canary the candidate at 10%, roll back, show log."""
    aliases = ws.registry.aliases(MODEL) if ws.registry.list_versions(MODEL) else {}
    if "champion" not in aliases:
        say("8 serve: skipped (no champion to deploy)")
        return []
    champion = f"{MODEL}@v{aliases['champion']}"
    ws.serve.deploy(champion, reason="demo: first deployment")
    port = _free_port()
    say(f"8 serve: deployed {champion}; starting the gateway on http://127.0.0.1:{port}")
    gateway = _start_gateway(ws.root, port)
    try:
        rows = _sample_rows(ws, champion)
        seen = _send(port, rows, count=5)
        say(f"  5 requests answered by {dict(seen)}")
        if "candidate" in aliases:
            candidate = f"{MODEL}@v{aliases['candidate']}"
            ws.serve.canary(candidate, percent=10, reason="demo: try the runner-up")
            seen = _send(port, rows, count=100)
            say(f"  canary {candidate} at 10%: 100 requests (sticky keys) answered by {dict(seen)}")
            ws.serve.rollback(MODEL, reason="demo: back to the champion")
            seen = _send(port, rows, count=20)
            say(f"  rolled back: 20 requests answered by {dict(seen)}")
    finally:
        gateway.terminate()
        try:
            gateway.wait(timeout=10)
        except subprocess.TimeoutExpired:
            gateway.kill()
            gateway.wait()
    log = ws.serve.read_log(model=MODEL)
    counts = log["version"].value_counts().to_dict() if len(log) else {}
    say(f"  prediction log: {len(log)} rows, by version {counts}")
    return [
        ("deployment history", f"flywheel -C {ws.root} serve history {MODEL}"),
        ("prediction log", f"flywheel -C {ws.root} serve log --since 1h"),
    ]


def _runs_with_models(ws: Workspace) -> list[str]:
    """Finished runs that logged a model, best first (leaderboard order when there is one)."""
    try:
        ranked = [entry.run for entry in ws.track.leaderboard()]
    except InvalidInputError:  # the page has no objective: newest first
        ranked = ws.track.list_runs()
    found = []
    for run in ranked:
        if run.status != "finished":
            continue
        if any(a.kind == "model" for a in ws.track.list_artifacts(run.id)):
            found.append(run.id)
    return found


def _sklearn_types(ws: Workspace, run_id: str) -> list[str]:
    """The types of the run's model outside skops' default trust that scikit-learn itself defines
    (an MLP keeps its Adam optimizer's state); the demo trusts those and nothing else."""
    data = ws.objects.get_bytes(ws.track.artifact(run_id, "model").digest)
    return [t for t in untrusted_types(data) if t.startswith("sklearn.")]


def _sample_rows(ws: Workspace, ref: str) -> list[list[float]]:
    version = ws.registry.get_version(ref)
    if not version.dataset:
        return [[0.0] * len(version.feature_names)]
    frame = ws.data.load(version.dataset, split="train")
    values = frame[list(version.feature_names)].head(20).to_numpy(dtype="float64")
    return [list(map(float, row)) for row in values]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start_gateway(root: Path, port: int) -> subprocess.Popen[bytes]:
    command = [
        sys.executable, "-c", "from flywheel_ml.cli.main import main; main()",
        "-C", str(root), "serve", "start", "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip
    # A file, not a pipe: a chatty gateway can never block on a full pipe nobody reads. The
    # child keeps its own descriptor of the file after this one is closed.
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=errors)
        deadline = time.monotonic() + _READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if process.poll() is not None:
                errors.seek(0)
                err = errors.read().decode(errors="replace")
                raise FlywheelError(
                    f"the demo's gateway exited at start: {err.strip()[-500:]}",
                    hint="run `flywheel serve start` in the demo folder to see why",
                )
            if _ready(port):
                return process
            time.sleep(0.05)
    process.kill()
    process.wait()
    raise FlywheelError(
        f"the demo's gateway did not become ready within {_READY_TIMEOUT_S:.0f} s",
        hint="the machine may be busy; run `flywheel demo` again",
    )


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


def _send(port: int, rows: list[list[float]], *, count: int) -> Counter[str]:
    seen: Counter[str] = Counter()
    url = f"http://127.0.0.1:{port}/v1/models/{MODEL}/predict"
    for i in range(count):
        body = json.dumps({"rows": [rows[i % len(rows)]], "key": f"user-{i}"}).encode()
        request = urllib.request.Request(
            url, data=body, headers={"content-type": "application/json"}, method="POST"
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            payload: dict[str, Any] = json.loads(answer.read())
        seen[str(payload["model_version"])] += 1
    return seen
