"""The UI's JSON API through Starlette's TestClient: the same data as the pages, the OpenAPI
schema, errors as 4xx JSON, writes refused without --write and recorded with it."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from flywheel_ml.server.ui_app import STAGE_ROUTERS, create_ui_app

BASE = "http://127.0.0.1"


@pytest.fixture
def api(ui_project: Any) -> Iterator[TestClient]:
    with TestClient(create_ui_app(ui_project.ws), base_url=BASE) as client:
        yield client


def test_dashboard_and_status(api: TestClient, ui_project: Any) -> None:
    doc = api.get("/api/v1/dashboard").json()
    assert doc["name"] == "Digits UI"
    assert doc["page"]["objective"] == {"metric": "accuracy", "direction": "max"}
    assert [s["stage"] for s in doc["stages"]][:2] == ["plan", "data"]
    assert any(e["kind"] == "deployment.canary" for e in doc["activity"])
    status = api.get("/api/v1/status").json()
    assert len(status) == 9
    assert api.get("/api/v1/activity?stage=serve&limit=1").json()[0]["stage"] == "serve"


def test_runs_are_paged_sorted_and_filtered_on_the_server(api: TestClient, ui_project: Any) -> None:
    doc = api.get("/api/v1/track/runs", params={"per": 2, "order": "name"}).json()
    assert (doc["total"], doc["pages_total"], len(doc["runs"])) == (3, 2, 2)
    assert [r["name"] for r in doc["runs"]] == ["logreg-good", "logreg-weak"]
    second = api.get("/api/v1/track/runs", params={"per": 2, "order": "name", "page": 2}).json()
    assert [r["name"] for r in second["runs"]] == ["long-curve"]
    found = api.get("/api/v1/track/runs", params={"where": "params.C >= 1"}).json()
    assert [r["id"] for r in found["runs"]] == [ui_project.good_run]
    bad = api.get("/api/v1/track/runs", params={"where": "metrics.x >"})
    assert bad.status_code == 422
    assert bad.json()["error"] == "invalid_input"


def test_run_metric_is_downsampled_with_lttb(api: TestClient, ui_project: Any) -> None:
    doc = api.get(f"/api/v1/track/runs/{ui_project.curve_run}/metrics/loss?points=100").json()
    assert doc["points_total"] == 5000
    assert len(doc["x"]) == 100
    assert doc["x"][0] == 0 and doc["x"][-1] == 4999
    run = api.get(f"/api/v1/track/runs/{ui_project.good_run[-8:]}").json()
    assert run["run"]["params"] == {"C": 1.0, "max_iter": 300}
    assert {a["name"] for a in run["artifacts"]} >= {"model"}
    assert api.get("/api/v1/track/runs/ffffffff").status_code == 404
    packages = api.get(f"/ui/track/runs/{ui_project.good_run}/artifacts/lineage/packages.txt")
    assert packages.status_code == 200
    assert packages.headers["content-type"].startswith("text/plain")
    assert "starlette==" in packages.text
    model = api.get(f"/ui/track/runs/{ui_project.good_run}/artifacts/model")
    assert "attachment" in model.headers["content-disposition"]
    good = ui_project.ws.track.artifact(ui_project.good_run, "model")
    assert len(model.content) == good.size
    assert api.get(f"/ui/track/runs/{ui_project.good_run}/artifacts/nope").status_code == 404


def test_compare_and_leaderboard(api: TestClient, ui_project: Any) -> None:
    runs = [ui_project.good_run, ui_project.weak_run]
    doc = api.get("/api/v1/track/compare", params=[("run", r) for r in runs]).json()
    assert doc["differing_params"] == ["C", "max_iter"]
    assert [len(c["lines"]) for c in doc["curves"]] == [2]
    board = api.get("/api/v1/track/leaderboard").json()
    assert board["objective"] == "accuracy max"
    assert board["entries"][0]["run"]["id"] == ui_project.good_run
    assert board["entries"][0]["passed"] is True
    assert board["entries"][1]["failed_constraints"] == ["latency_p95_ms < 1000 (measured 1500)"]
    assert board["passing"] == 1


def test_data_registry_serve(api: TestClient, ui_project: Any) -> None:
    data = api.get("/api/v1/data").json()
    assert [v["ref"] for v in data["datasets"][0]["versions"]] == ["digits@v2", "digits@v1"]
    version = api.get("/api/v1/data/versions/digits@v2").json()
    assert version["splits"]["test"]["items"] > 0
    assert version["slices"][0]["name"] == "bright-centre"
    assert len(version["histograms"]) == 16
    diff = api.get("/api/v1/data/diff", params={"old": "digits@v1", "new": "digits@v2"}).json()
    assert diff["added"]["count"] == 100
    assert len(api.get("/api/v1/data/audit").json()) == 2
    assert "## " in api.get("/api/v1/data/documents/digits").json()["markdown"]
    registry = api.get("/api/v1/registry").json()
    model = registry["models"][0]
    assert model["aliases"] == {"champion": 1}
    assert model["alias_history"][0]["reason"] == "passed the release gates"
    version = api.get(f"/api/v1/registry/versions/{ui_project.champion}").json()
    checks = version["evaluations"][0]["constraints"]
    assert {c["constraint"]: c["passed"] for c in checks}["model_mb < 50"] is True
    card = api.get(f"/api/v1/registry/cards/{ui_project.champion}").json()
    assert ui_project.champion in card["markdown"]
    serve = api.get(f"/api/v1/serve/{ui_project.model}").json()
    assert serve["deployment"]["canary"] == ui_project.canary
    assert serve["traffic"]["requests"] == 60
    assert sum(serve["traffic"]["by_version"].values()) == 60


def test_errors_are_json_for_the_api_and_pages_for_the_ui(api: TestClient) -> None:
    missing = api.get("/api/v1/serve/nope")
    assert missing.status_code == 404
    assert missing.json()["error"] == "not_found"
    page = api.get("/ui/registry/versions/nope@v1")
    assert page.status_code == 404
    assert "text/html" in page.headers["content-type"]
    assert api.get("/api/v1/nothing").json()["error"] == "not_found"


def test_openapi_lists_every_json_route(api: TestClient) -> None:
    schema = api.get("/api/v1/openapi.json").json()
    assert schema["openapi"].startswith("3.")
    paths = schema["paths"]
    assert "/api/v1/track/runs" in paths
    assert "post" in paths["/api/v1/serve/{model}/{action}"]
    assert all(p.startswith("/api/") for p in paths)
    assert all(op.get("summary") for p in paths.values() for op in p.values())


def test_nothing_is_loaded_from_elsewhere(api: TestClient) -> None:
    page = api.get("/")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert "http://" not in page.text and "https://" not in page.text
    assert api.get("/static/vendor/plotly.min.js").status_code == 200
    assert api.get("/", headers={"host": "evil.example"}).status_code == 400


def test_stages_without_a_router_get_an_honest_page(api: TestClient) -> None:
    for stage in ("label", "tune", "analyze", "monitor"):
        if stage in STAGE_ROUTERS:
            continue
        page = api.get(f"/ui/{stage}")
        assert page.status_code == 200
        assert f"flywheel {stage}" in page.text


def test_writes_are_refused_without_write(api: TestClient, ui_project: Any) -> None:
    before = ui_project.ws.serve.get(ui_project.model)
    answer = api.post(f"/api/v1/serve/{ui_project.model}/rollback", json={"reason": "x"})
    assert answer.status_code == 403
    assert answer.json()["error"] == "writes_disabled"
    form = api.post(f"/ui/serve/{ui_project.model}/rollback", data={"reason": "x"})
    assert form.status_code == 403
    assert ui_project.ws.serve.get(ui_project.model) == before


def test_writes_need_the_form_token_and_are_recorded(fresh_ui_project: Any) -> None:
    project = fresh_ui_project
    app = create_ui_app(project.ws, write=True)
    with TestClient(app, base_url=BASE) as client:
        stale = client.post(f"/ui/serve/{project.model}/rollback", data={"_token": "old"})
        assert stale.status_code == 403
        assert project.ws.serve.get(project.model).canary == project.canary
        promoted = client.post(
            f"/api/v1/serve/{project.model}/promote",
            json={"reason": "canary looks fine"},
            headers={"x-flywheel-user": "alice"},
        )
        assert promoted.status_code == 200, promoted.text
        assert promoted.json()["champion"] == project.canary
        again = client.post(f"/api/v1/serve/{project.model}/promote", json={})
        assert again.status_code == 409
        token = app.state.ui.form_token
        back = client.post(
            f"/ui/serve/{project.model}/rollback",
            data={"_token": token, "reason": "worse"},
            follow_redirects=False,
        )
        assert back.status_code == 303
    state = project.ws.serve.get(project.model)
    assert state.champion == project.champion
    events = project.ws.events.recent(limit=10, stage="serve")
    ui = [(e.kind, e.actor) for e in events if e.kind.startswith("ui.")]
    assert ui == [("ui.rollback", "tester"), ("ui.promote", "alice")]
    moves = project.ws.serve.history(project.model)
    assert [(m.kind, m.actor, m.reason) for m in moves[-2:]] == [
        ("promote", "alice", "canary looks fine"),
        ("rollback", "tester", "worse"),
    ]


def test_data_document_page_shows_human_html_as_text(api: TestClient, ui_project: Any) -> None:
    # A human section is user input: the UI page must show its HTML as text, never run it.
    path = ui_project.ws.data.document_path("digits")
    before = path.read_text(encoding="utf-8") if path.is_file() else None
    markdown = api.get("/api/v1/data/documents/digits").json()["markdown"]
    start = markdown.index("<!-- human:motivation -->") + len("<!-- human:motivation -->")
    end = markdown.index("<!-- /human:motivation -->")
    written = "\nDigits for the UI. <script>alert(1)</script> <img src=x onerror=alert(2)>\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(markdown[:start] + written + markdown[end:], encoding="utf-8")
    try:
        page = api.get("/ui/data/documents/digits").text
    finally:
        if before is None:
            path.unlink()
        else:
            path.write_text(before, encoding="utf-8")
    assert "Digits for the UI." in page and "alert(1)</script>" not in page
    assert "<img src=x" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
