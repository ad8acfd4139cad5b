"""The SDK over REST against a live team server on 127.0.0.1: the stage verbs, who is recorded,
roles, optimistic callbacks, digests both ways, idempotent retries and 16 concurrent clients."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

import flywheel_ml as fw
from flywheel_ml.backends.rest import RestClient, RestStores
from flywheel_ml.core.access import ForbiddenError
from flywheel_ml.errors import IntegrityError, NotFoundError, StoreUnavailableError
from flywheel_ml.server.team_app import create_team_app
from tests.server.team_live import live_server, role_tokens


@dataclass(frozen=True)
class Team:
    server: Any  # the server host's own (SQL) workspace
    url: str
    tokens: dict[str, str]


@contextmanager
def _team(root: Path) -> Iterator[Team]:
    server = fw.init_workspace(root / "server", name="Team project")
    tokens = role_tokens(server)
    try:
        with live_server(create_team_app(server)) as url:
            yield Team(server, url, tokens)
    finally:
        server.close()


@pytest.fixture
def team(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Team]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with _team(tmp_path) as found:
        yield found


def _frame(rows: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(rows, 4)), columns=["a", "b", "c", "d"])
    frame["label"] = (frame["a"] > 0).astype(int)
    frame.insert(0, "id", [f"r{i}" for i in range(rows)])
    return frame


def test_the_stage_verbs_work_over_rest_and_record_the_token_user(team: Team) -> None:
    from sklearn.linear_model import LogisticRegression

    with fw.connect_workspace(team.url, token=team.tokens["lead"]) as ws:
        assert ws.is_remote and ws.name == "Team project"
        ws.plan.set(problem="tell a from b", objective="accuracy max")
        ws.plan.set(value="fewer mistakes")  # a second revision: the optimistic callback
        version = ws.data.add(_frame(), name="table", label="label", id="id", message="one")
        train = ws.data.load("table@v1", split="train")
        with ws.track.start_run("fit", datasets=["table"]) as run:
            model = LogisticRegression().fit(train[["a", "b", "c", "d"]], train["label"])
            for step in range(50):
                run.log_metric("loss", 1 / (step + 1), step=step)
            run.log_model(model)
        registered = ws.registry.register(str(run.id), name="clf")
        evaluation = ws.registry.evaluate(registered.ref)  # the audited sealed-test read
        assert evaluation.passed, evaluation
        ws.registry.set_alias("clf", "champion", registered.version, reason="first")
        ws.serve.deploy("clf@champion", reason="go live")

    # What the server holds, read on the server host: the writes are the token user's.
    server = team.server
    assert server.plan.get().value == "fewer mistakes"
    assert server.plan.get().updated_by == "lead-user"
    assert server.data.get_version("table@v1").author == "lead-user" == version.author
    stored = server.track.get_run(str(run.id))
    assert stored.status == "finished" and stored.created_by == "lead-user"
    assert server.track.metric_series(str(run.id), "loss").steps.tolist() == list(range(50))
    assert server.registry.aliases("clf") == {"champion": registered.version}
    deployment = server.serve.get("clf")
    assert deployment.champion == registered.ref and deployment.updated_by == "lead-user"
    assert {e.actor for e in server.events.recent(limit=50)} == {"lead-user"}
    audit = server.stores.store("data").list_test_reads()
    assert [(r.actor, r.purpose) for r in audit] == [
        ("lead-user", f"evaluate {registered.ref}: release evaluation")
    ]
    # The model's bytes came through whole.
    assert server.registry.load_model("clf@champion").predict(train[["a", "b", "c", "d"]]).shape


def test_roles_are_enforced_on_the_store_and_object_apis(team: Team) -> None:
    with fw.connect_workspace(team.url, token=team.tokens["viewer"]) as ws:
        assert ws.data.list_datasets() == []  # a viewer reads
        with pytest.raises(ForbiddenError, match="scientist"):
            ws.data.add(_frame(), name="t", label="label", id="id")
        with pytest.raises(ForbiddenError, match="lead"):
            ws.plan.set(problem="not mine to change")
    # The refused add left nothing behind.
    assert team.server.data.list_datasets() == []
    with pytest.raises(fw.FlywheelError, match="token"):
        fw.connect_workspace(team.url, token="fw_not_a_token")


def test_an_unknown_store_argument_or_malformed_body_is_a_422(team: Team) -> None:
    headers = {"Authorization": f"Bearer {team.tokens['admin']}"}
    with httpx.Client(base_url=team.url, headers=headers) as http:
        bad = http.post("/api/v1/stores/data/list_versions", json={"args": {"nmae": "x"}})
        assert bad.status_code == 422 and "no argument 'nmae'" in bad.json()["message"]
        bad = http.post("/api/v1/stores/data/list_versions", content=b"{not json")
        assert bad.status_code == 422
        bad = http.post(
            "/api/v1/stores/data/list_versions",
            json={"args": {"name": {"$dc": "subprocess:Popen", "f": {}}}},
        )
        assert bad.status_code == 422 and "unknown entity" in bad.json()["message"]
        mistyped = http.post(
            "/api/v1/stores/data/get_version", json={"args": {"name": "t", "number": "one"}}
        )
        assert mistyped.status_code == 422
        assert "argument 'number' must be int" in mistyped.json()["message"]
        missing = http.post("/api/v1/stores/data/no_such_method", json={"args": {}})
        assert missing.status_code in (403, 404, 405)


def test_object_digests_are_checked_in_both_directions(team: Team) -> None:
    stores = RestStores(RestClient(team.url, team.tokens["scientist"]))
    try:
        digest = stores.objects.put_bytes(b"some bytes")
        assert stores.objects.get_bytes(digest) == b"some bytes"
        assert stores.objects.exists(digest)
        assert stores.data_objects.put_many([b"x", b"y", b"x"])[0] == stores.objects.put_bytes(b"x")
        other = fw.core.digests.digest_bytes(b"other")  # type: ignore[attr-defined]
        with pytest.raises(NotFoundError):
            stores.objects.get_bytes(other)
        # An upload whose bytes are not the named object's is refused and stores nothing.
        answer = stores.client.send  # the raw route, with a lying digest
        with pytest.raises(fw.FlywheelError, match="digest"):
            answer("PUT", f"/api/v1/objects/{other}", content=b"not other")
        assert not stores.objects.exists(other)
        # Bytes altered on the server are caught by the client.
        path = team.server.stores.objects.path_of(digest)
        path.chmod(0o644)
        path.write_bytes(b"tampered!!")
        with pytest.raises(IntegrityError):
            stores.objects.get_bytes(digest)
    finally:
        stores.close()


class _LoseFirstAnswer(httpx.BaseTransport):
    """Sends every request, but loses the answer of the first store write (a cut connection
    after the server did the work): the client must retry, and the write must happen once."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.lost: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if "append_points" in request.url.path and not self.lost:
            response.read()
            self.lost.append(request.headers["idempotency-key"])
            raise httpx.ReadError("connection reset after the server answered", request=request)
        return response

    def close(self) -> None:
        self.inner.close()


def test_a_retried_batch_is_logged_once(team: Team) -> None:
    transport = _LoseFirstAnswer()
    stores = RestStores(RestClient(team.url, team.tokens["scientist"], transport=transport))
    with fw.connect_workspace(team.url, token=team.tokens["scientist"]) as ws:
        run = ws.track.start_run("retried")
        run_id = str(run.id)
        run.end()
    track = stores.store("track")
    batch = {(run_id, "acc"): ([0, 1, 2], [0.1, 0.2, 0.3], [1.0, 2.0, 3.0])}
    track.append_points(batch)
    stores.close()
    assert transport.lost, "the fault was not injected"
    series = team.server.track.metric_series(run_id, "acc")
    assert series.steps.tolist() == [0, 1, 2]  # once, not twice


def test_a_server_that_is_gone_is_a_clear_error(tmp_path: Path) -> None:
    from tests.server.team_live import free_port

    with pytest.raises(StoreUnavailableError, match="cannot reach"):
        client = RestClient(f"http://127.0.0.1:{free_port()}", "t", timeout_s=2)
        client.send("GET", "/api/v1/whoami")


def test_sixteen_clients_logging_at_once_lose_nothing(team: Team) -> None:
    clients, points = 16, 300
    errors: list[BaseException] = []
    run_ids: list[str] = []
    lock = threading.Lock()

    def client(number: int) -> None:
        try:
            with fw.connect_workspace(team.url, token=team.tokens["scientist"]) as ws:
                with ws.track.start_run(f"client-{number}", params={"n": number}) as run:
                    for step in range(points):
                        run.log_metric("loss", 1.0 / (step + 1), step=step)
                        run.log_metric("acc", step / points, step=step)
                with lock:
                    run_ids.append(str(run.id))
        except BaseException as exc:  # reported below with the others
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=240)
    assert errors == []
    assert len(run_ids) == clients
    track = team.server.track
    for run_id in run_ids:
        run = track.get_run(run_id)
        assert run.status == "finished"
        assert track.metric_series(run_id, "loss").steps.tolist() == list(range(points))
        assert len(track.metric_series(run_id, "acc").steps) == points


def test_path_traversal_names_in_store_calls_never_reach_the_disk(team: Team) -> None:
    from tests.server.test_team_server import PAYLOADS

    names = (*PAYLOADS, "model\x00.txt", "/etc/passwd\x00")
    calls = [
        ("data", "get_dataset", "name"),
        ("data", "list_versions", "name"),
        ("data", "find_versions", "digest_prefix"),
        ("track", "get_run", "run_id"),
        ("track", "list_artifacts", "run_id"),
        ("registry", "aliases", "name"),
        ("registry", "list_cases", "model"),
        ("serve", "get_deployment", "model"),
        ("monitor", "get_rule", "rule_id"),
        ("tune", "get_study", "name"),
    ]
    headers = {"Authorization": f"Bearer {team.tokens['admin']}"}
    wrong: list[str] = []
    with httpx.Client(base_url=team.url, headers=headers) as http:
        for store, method, param in calls:
            for name in names:
                answer = http.post(f"/api/v1/stores/{store}/{method}", json={"args": {param: name}})
                if answer.status_code >= 500 or b"root:x:0" in answer.content:
                    wrong.append(f"{store}.{method}({name[:40]!r}) -> {answer.status_code}")
        for name in PAYLOADS:  # in a URL path (httpx refuses a raw NUL there)
            answer = http.get(f"/api/v1/objects/{name}")
            if not 400 <= answer.status_code < 500 or b"root:x:0" in answer.content:
                wrong.append(f"GET objects/{name[:40]!r} -> {answer.status_code}")
    assert not wrong, "\n".join(wrong)


def test_label_queues_and_a_search_with_worker_processes_work_over_rest(
    team: Team, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flywheel_ml.tune.configs import parse_config

    # Search workers in other processes find the server the way any client does.
    monkeypatch.setenv("FLYWHEEL_URL", team.url)
    monkeypatch.setenv("FLYWHEEL_TOKEN", team.tokens["lead"])
    with fw.open_workspace() as ws:
        assert ws.is_remote
        ws.plan.set(problem="p", objective="accuracy max")
        ws.data.add(_frame(300), name="table", label="label", id="id")
        ws.label.set_guide("classes:\n  - name: '0'\n  - name: '1'\n")
        queue = ws.label.create_queue("first", "table@v1", size=5, annotators=["ann"])
        task = ws.label.next_task(queue.name, "ann")
        assert task is not None
        ws.label.submit(queue.name, task.task.item, "ann", 1)
        assert [a.item for a in ws.label.annotations("table")] == [task.task.item]
        config = parse_config(
            "data: table@v1\nmodel: sklearn.linear_model.LogisticRegression\nseed: 1\n"
            "search:\n  C: {float: [0.01, 10], log: true}\n"
        )
        result = ws.tune.search(config, study="remote", n_trials=6, jobs=2)
        assert result.completed == 6 and result.best_run_id is not None
    runs = team.server.track.list_runs("tags.study = remote")
    assert len(runs) == 6 and {r.created_by for r in runs} == {"lead-user"}


def test_a_record_naming_bytes_the_server_lacks_is_refused(team: Team) -> None:
    from datetime import UTC, datetime

    from flywheel_ml.core.digests import digest_bytes
    from flywheel_ml.data.entities import Dataset, DatasetVersion
    from flywheel_ml.errors import InvalidInputError

    stores = RestStores(RestClient(team.url, team.tokens["scientist"]))
    try:
        ghost = DatasetVersion(
            digest=digest_bytes(b"a manifest never uploaded"),
            dataset="ghost",
            number=1,
            parent=None,
            message="",
            author="x",
            created_at=datetime.now(UTC),
            items=0,
            size=0,
        )
        dataset = Dataset(name="ghost", kind="table", label="label")
        with pytest.raises(InvalidInputError, match="does not have"):
            stores.store("data").create_version(dataset, ghost)
    finally:
        stores.close()
    assert team.server.data.list_datasets() == []
