"""``flywheel monitor`` end to end through the real command line."""

from __future__ import annotations

import json
import threading
from http.server import HTTPServer
from typing import Any

from tests.monitor.conftest import MODEL, SHIFTED, Deployed, log_traffic
from tests.monitor.test_stage import _Hook


def test_drift_rules_check_and_labels_through_the_cli(deployed: Deployed, cli: Any) -> None:
    root = deployed.ws.root
    ids = log_traffic(deployed, n=500, shift=6.0, seed=11)

    done = cli("--json", "monitor", "drift", MODEL, "--html", str(root / "drift.html"), cwd=root)
    assert done.returncode == 1, done.stderr  # drift found
    data = json.loads(done.stdout)
    assert set(SHIFTED) <= set(data["drifted"]) and data["rows"] == 500
    assert (root / "drift.html").stat().st_size < 1_000_000

    server = HTTPServer(("127.0.0.1", 0), _Hook)
    _Hook.received = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        added = cli("monitor", "rules", "add", "psi(feature=*) > 0.2", "--notify",
                    f"webhook:{url}", cwd=root)  # fmt: skip
        assert added.returncode == 0, added.stderr
        cli("monitor", "rules", "add", "age(champion) > 30d", cwd=root)
        bad = cli("monitor", "rules", "add", "psi(feature=*) >>> 1", cwd=root)
        assert bad.returncode == 2 and "cannot parse rule" in bad.stderr
        checked = cli("monitor", "check", cwd=root)
        assert checked.returncode == 1, checked.stderr
        assert "ALERT" in checked.stdout
    finally:
        server.shutdown()
    assert len(_Hook.received) == 1 and _Hook.received[0]["rule"] == "psi(feature=*) > 0.2"

    listed = json.loads(cli("--json", "monitor", "rules", "list", cwd=root).stdout)
    assert [r["last"]["fired"] for r in listed] == [True, False]
    alerts = json.loads(cli("--json", "monitor", "alerts", cwd=root).stdout)
    assert len(alerts) == 1

    csv = root / "delayed.csv"
    csv.write_text("request_id,label\n" + "".join(f"{r},3\n" for r in ids[:50]))
    imported = cli("--json", "monitor", "labels", "import", str(csv), cwd=root)
    assert json.loads(imported.stdout) == {"imported": 50}
    acc = json.loads(cli("--json", "monitor", "accuracy", MODEL, cwd=root).stdout)
    assert acc["labelled_rows"] == 50 and acc["logged_rows"] == 500

    removed = cli("monitor", "rules", "remove", listed[0]["id"], cwd=root)
    assert removed.returncode == 0
    quiet = cli("monitor", "check", cwd=root)
    assert quiet.returncode == 0, quiet.stdout  # only the staleness rule is left; not stale


def test_feedback_and_a_turn_through_the_cli(deployed: Deployed, cli: Any) -> None:
    root = deployed.ws.root
    truth: dict[str, Any] = {}
    log_traffic(deployed, n=300, shift=6.0, seed=31, truth=truth)
    queued = cli("--json", "monitor", "feedback", MODEL, "--low-confidence", "0.9", "--sample",
                 "10", cwd=root)  # fmt: skip
    assert queued.returncode == 0, queued.stderr
    data = json.loads(queued.stdout)
    assert data["queue"] == f"{MODEL}-production" and data["added"] == data["selected"] > 0
    waiting = cli("turn", MODEL, cwd=root)
    assert waiting.returncode == 1 and "still to label" in waiting.stdout
    label = deployed.ws.label
    for task in label.tasks(data["queue"]):  # simulated annotators
        label.submit(data["queue"], task.item, "simulated-annotator", int(truth[task.item]))
    done = cli("turn", MODEL, "--tolerance", "0.1", cwd=root)
    assert done.returncode == 0, done.stdout + done.stderr
    for step in ("queue:", "labels applied:", "retrain:", "evaluate:", "canary:"):
        assert step in done.stdout
    assert "canary" in done.stdout.splitlines()[-1]
