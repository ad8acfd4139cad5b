"""Monitor verbs on a deployed digits model: drift of the log, rules, checks, delayed labels."""

from __future__ import annotations

import io
import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, ClassVar

import pytest
from tests.monitor.conftest import MODEL, SHIFTED, Deployed, log_traffic

from flywheel_ml.errors import InvalidInputError, NotFoundError


def test_drift_of_shifted_traffic_flags_the_shifted_pixels(deployed: Deployed) -> None:
    log_traffic(deployed, n=800, shift=6.0, seed=1)
    report = deployed.ws.monitor.drift(MODEL)
    features = {c.column for c in report.columns if c.drifted and c.role == "feature"}
    assert set(SHIFTED) <= features
    assert report.rows == 800
    assert report.reference == "digits@v1"
    assert report.column("prediction").role == "prediction"


def test_unshifted_traffic_raises_no_feature_flag(deployed: Deployed) -> None:
    log_traffic(deployed, n=800, shift=0.0, seed=2)
    report = deployed.ws.monitor.drift(MODEL)
    assert [c.column for c in report.columns if c.drifted and c.role == "feature"] == []


def test_reference_binning_is_computed_once(deployed: Deployed) -> None:
    mon = deployed.ws.monitor
    first = mon.reference_binning("digits@v1", columns=["px1", "px2"])
    calls = []
    mon.data.load = lambda *a, **k: calls.append(1)  # type: ignore[method-assign]
    again = mon.reference_binning("digits@v1", columns=["px1", "px2"])
    assert calls == []
    assert again.to_bytes() == first.to_bytes()


def test_drift_without_traffic_says_what_to_do(deployed: Deployed) -> None:
    with pytest.raises(InvalidInputError, match="no logged predictions"):
        deployed.ws.monitor.drift(MODEL)


def test_dask_counts_the_same_as_local(deployed: Deployed) -> None:
    from flywheel_ml.backends.dask_parts import dask_map_parts

    log_traffic(deployed, n=300, shift=6.0, seed=3)
    log_traffic(deployed, n=300, shift=6.0, seed=4)
    local = deployed.ws.monitor.drift(MODEL)
    on_dask = deployed.ws.monitor.drift(MODEL, map_parts=dask_map_parts)
    assert on_dask.rows == local.rows == 600
    assert on_dask.drifted == local.drifted


def test_delayed_labels_give_live_accuracy_and_label_drift(deployed: Deployed) -> None:
    ws = deployed.ws
    ids = log_traffic(deployed, n=200, seed=5)
    log = ws.serve.read_log(model=MODEL).set_index("request_id")
    lines = ["request_id,label"]
    for i, rid in enumerate(ids):
        predicted = str(log.loc[rid, "prediction"])
        lines.append(f"{rid},{predicted if i % 4 else 'wrong'}")
    assert ws.monitor.import_labels(io.StringIO("\n".join(lines))) == 200
    live = ws.monitor.live_accuracy(MODEL)
    assert live.labelled_rows == 200 and live.accuracy == pytest.approx(0.75)
    report = ws.monitor.drift(MODEL)
    label = report.column("label")
    assert label.role == "label" and label.drifted  # 'wrong' is a new class
    with pytest.raises(InvalidInputError, match="request_id and label"):
        ws.monitor.import_labels(io.StringIO("id,label\nx,1\n"))


def test_rules_are_validated_stored_and_removed(deployed: Deployed) -> None:
    mon = deployed.ws.monitor
    rule = mon.add_rule("psi(feature=*) > 0.2", notify=["log"])
    assert [r.id for r in mon.list_rules()] == [rule.id]
    with pytest.raises(InvalidInputError):
        mon.add_rule("psi(feature=*) >> 0.2")
    with pytest.raises(InvalidInputError, match="channel"):
        mon.add_rule("drifted > 0", notify=["email:me"])
    assert mon.remove_rule(rule.id[:8]).id == rule.id
    assert mon.list_rules() == []
    with pytest.raises(NotFoundError):
        mon.remove_rule(rule.id)


class _Hook(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Hook.received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_check_fires_drift_and_staleness_alerts_to_a_webhook(deployed: Deployed) -> None:
    ws = deployed.ws
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    _Hook.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        ws.monitor.add_rule("psi(feature=*) > 0.2", notify=[f"webhook:{url}", "log"])
        ws.monitor.add_rule("age(champion) > 30d")
        ws.monitor.add_rule("live_accuracy < 0.9 over 7d")
        log_traffic(deployed, n=600, shift=6.0, seed=6)
        result = ws.monitor.check()
    finally:
        server.shutdown()
    assert len(result.evaluations) == 3
    assert [a.deliveries for a in result.alerts] == [{f"webhook:{url}": "ok", "log": "ok"}]
    assert len(_Hook.received) == 1 and _Hook.received[0]["model"] == MODEL
    assert _Hook.received[0]["detail"]["column"] in SHIFTED
    by_rule = {e.detail.get("version", e.detail.get("column")): e for e in result.evaluations}
    assert by_rule[f"{MODEL}@v1"].fired is False  # a fresh champion is not stale
    assert (ws.settings.state_dir / "alerts.log").read_text().count("\n") == 1
    later = ws.monitor.check(now=result.evaluations[0].at + timedelta(days=45))
    fired = sorted(a.message.split(":")[1].strip().split(" ")[0] for a in later.alerts)
    assert fired == ["age(champion)"]  # the traffic has left the 24 h window by then
    assert len(ws.monitor.alerts()) == 2
    assert len(ws.monitor.evaluations()) == 6
