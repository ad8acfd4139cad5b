"""Annotators see only their queues: through the team server on 127.0.0.1 (JSON API and HTML
pages) an annotator reads and answers their own queues and nothing of anyone else's."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from flywheel_ml.server.queue_scope import QueueScope
from flywheel_ml.server.team_app import create_team_app
from tests.server.team_live import live_server

GUIDE = "classes:\n" + "".join(
    f"  - name: '{d}'\n    definition: the digit {d}\n" for d in range(3)
)
USERS = {"alice": "annotator", "bob": "annotator", "carol": "annotator", "sam": "scientist"}
USERS |= {"vic": "viewer"}


@dataclass
class Site:
    ws: Any
    url: str
    tokens: dict[str, str]

    def client(self, user: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.url,
            headers={"authorization": f"Bearer {self.tokens[user]}"},
            timeout=30,
            follow_redirects=False,
        )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    import pandas as pd

    import flywheel_ml as fw
    from flywheel_ml.label import QueueItem

    ws = fw.init_workspace(tmp_path_factory.mktemp("queues") / "ws", name="Queues")
    frame = pd.DataFrame(
        {"x": [float(i) for i in range(40)], "label": [str(i % 3) for i in range(40)]}
    )
    frame["item"] = [f"i{i:02d}" for i in range(40)]
    ws.data.add(frame, name="digits", label="label", id="item")
    ws.label.set_guide(GUIDE)
    ws.label.create_queue("alice-q", "digits@v1", size=3, annotators=["alice"], seed=1)
    ws.label.create_queue("bob-q", "digits@v1", size=3, annotators=["bob"], seed=2)
    ws.label.create_queue("shared", "digits@v1", size=6, annotators=["alice", "bob"], seed=3)
    ws.label.enqueue("open-q", [QueueItem(item="i39")], dataset="digits")
    tokens = {}
    for user, role in USERS.items():
        ws.access.add_user(user, role=role, actor="root")
        tokens[user] = ws.access.create_token(user, expires="1d").token
    try:
        with live_server(create_team_app(ws)) as url:
            yield Site(ws=ws, url=url, tokens=tokens)
    finally:
        ws.close()


def _open_item(ws: Any, queue: str, annotator: str) -> str:
    return str(
        next(t.item for t in ws.label.tasks(queue, annotator=annotator) if t.status == "open")
    )


def test_an_annotator_lists_only_their_queues_and_their_own_progress(site: Site) -> None:
    with site.client("alice") as alice:
        overview = alice.get("/api/v1/label")
    assert overview.status_code == 200, overview.text
    queues = {q["name"]: q for q in overview.json()["queues"]}
    assert set(queues) == {"alice-q", "shared", "open-q"}
    assert [p["annotator"] for p in queues["shared"]["progress"]] == ["alice"]
    assert [p["annotator"] for p in queues["open-q"]["progress"]] == ["*"]
    assert "bob" not in overview.text
    with site.client("carol") as carol:
        # carol is named in no queue: only the one open to anyone
        assert [q["name"] for q in carol.get("/api/v1/label").json()["queues"]] == ["open-q"]
    for user in ("sam", "vic"):  # a scientist and a viewer see every queue and annotator
        with site.client(user) as other:
            names = {q["name"] for q in other.get("/api/v1/label").json()["queues"]}
        assert names == {"alice-q", "bob-q", "shared", "open-q"}, user


def test_another_annotators_queue_is_not_found_for_reading_or_writing(site: Site) -> None:
    ws = site.ws
    bobs = _open_item(ws, "bob-q", "bob")
    before = len(ws.label.annotations())
    with site.client("alice") as alice:
        missing = alice.get("/api/v1/label/queues/no-such-queue/next")
        hidden = alice.get("/api/v1/label/queues/bob-q/next?annotator=bob")
        # The same answer as for a queue that does not exist: names cannot be probed.
        assert (missing.status_code, hidden.status_code) == (404, 404)
        assert hidden.json()["message"] == "no queue 'bob-q'"
        assert missing.json()["message"] == "no queue 'no-such-queue'"
        written = alice.post("/api/v1/label/queues/bob-q/answer", json={"item": bobs, "label": "1"})
        assert written.status_code == 404
        skipped = alice.post(
            "/api/v1/label/queues/bob-q/answer", json={"item": bobs, "action": "skip"}
        )
        assert skipped.status_code == 404
        # In a queue they share, alice gets her own task whoever she names, and cannot
        # answer one of bob's.
        mine = alice.get("/api/v1/label/queues/shared/next?annotator=bob").json()
        assert mine["annotator"] == "alice" and mine["task"]["assigned_to"] == "alice"
        bob_shared = _open_item(ws, "shared", "bob")
        taken = alice.post(
            "/api/v1/label/queues/shared/answer",
            json={"item": bob_shared, "annotator": "bob", "label": "2"},
        )
        assert taken.status_code == 404
    assert len(ws.label.annotations()) == before
    assert all(t.status == "open" for t in ws.label.tasks("bob-q"))
    assert _open_item(ws, "shared", "bob") == bob_shared


def test_the_html_pages_show_and_accept_only_their_queues(site: Site) -> None:
    ws = site.ws
    with site.client("alice") as alice:
        page = alice.get("/ui/label")
        assert page.status_code == 200
        assert "alice-q" in page.text and "bob-q" not in page.text and "bob" not in page.text
        own = alice.get("/ui/label/queues/alice-q")
        assert own.status_code == 200 and "bob" not in own.text
        form_token = re.search(r'name="_token" value="([^"]+)"', own.text)
        assert form_token is not None
        assert alice.get("/ui/label/queues/bob-q").status_code == 404
        item = _open_item(ws, "bob-q", "bob")
        posted = alice.post(
            "/ui/label/queues/bob-q",
            data={"_token": form_token.group(1), "item": item, "label": "0"},
        )
        assert posted.status_code == 404
        assert _open_item(ws, "bob-q", "bob") == item
        mine = _open_item(ws, "alice-q", "alice")
        done = alice.post(
            "/ui/label/queues/alice-q",
            data={"_token": form_token.group(1), "item": mine, "label": "0"},
        )
        assert done.status_code == 303, done.text
    made = [a for a in ws.label.annotations() if a.item == mine and a.queue == "alice-q"]
    assert [a.annotator for a in made] == ["alice"]
    with site.client("vic") as viewer:  # a viewer sees the overview but may not annotate
        assert viewer.get("/ui/label/queues/alice-q").status_code == 403


def test_the_activity_log_hides_other_annotators_label_work(site: Site) -> None:
    ws = site.ws
    with site.client("bob") as bob:
        item = _open_item(ws, "bob-q", "bob")
        answer = bob.post("/api/v1/label/queues/bob-q/answer", json={"item": item, "label": "1"})
        assert answer.status_code == 200, answer.text
    with site.client("alice") as alice:
        mine = _open_item(ws, "shared", "alice")
        assert (
            alice.post(
                "/api/v1/label/queues/shared/answer", json={"item": mine, "label": "2"}
            ).status_code
            == 200
        )
        seen = alice.get("/api/v1/activity?limit=500").json()
        dashboard = alice.get("/api/v1/dashboard").json()["activity"]
        page = alice.get("/ui/activity").text
    subjects = {(e["kind"], e["subject"]) for e in seen if e["stage"] == "label"}
    assert ("ui.annotation", f"shared/{mine}") in subjects
    assert ("queue.created", "alice-q") in subjects and ("queue.created", "bob-q") not in subjects
    assert not [e for e in [*seen, *dashboard] if e["actor"] == "bob"]
    assert "bob" not in page
    assert any(e["stage"] == "data" for e in seen)  # other stages' events stay
    with site.client("sam") as scientist:
        everything = scientist.get("/api/v1/activity?limit=500").json()
    assert any(e["actor"] == "bob" and e["subject"] == f"bob-q/{item}" for e in everything)


def test_agreement_figures_name_only_the_annotator_themselves() -> None:
    scope = QueueScope(user="alice", queues=frozenset({"q"}))
    baseline = {
        "dataset": "digits",
        "annotators": ["alice", "bob"],
        "accuracy": {"alice": 0.9, "bob": 0.8},
        "support": {"alice": 10, "bob": 12},
        "cohen": {"alice|bob": 0.7},
        "mean_accuracy": 0.85,
        "alpha_nominal": 0.7,
    }
    shown = scope.baseline(baseline)
    assert shown is not None and "bob" not in repr(shown)
    assert shown["accuracy"] == {"alice": 0.9} and shown["mean_accuracy"] == 0.85
    assert scope.baseline(None) is None


def test_the_local_ui_is_not_scoped(tmp_path: Path) -> None:
    import flywheel_ml as fw
    from flywheel_ml.server.ui_app import create_ui_app

    ws = fw.init_workspace(tmp_path / "ws", name="Local")
    try:
        with live_server(create_ui_app(ws)) as url:
            assert httpx.get(f"{url}/api/v1/label").json()["queues"] == []
            assert httpx.get(f"{url}/api/v1/label/queues/none/next").status_code == 404
    finally:
        ws.close()
