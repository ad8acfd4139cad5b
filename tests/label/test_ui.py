"""The label pages: the overview, the annotation page in Chromium, and the JSON API."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from flywheel_ml.server.ui_app import create_ui_app

GUIDE = (
    "classes:\n"
    + "".join(f"  - name: '{d}'\n    definition: the digit {d}\n" for d in range(10))
    + "hard_cases: ['two digits: label the larger, tag hard']\n"
)


def _wait_past(page: Any, item: str) -> None:
    """Wait until the page shows another item (or says the queue is done)."""
    page.wait_for_function(
        "(old) => { const el = document.getElementById('item-id'); "
        "return document.getElementById('queue-done') || (el && el.innerText !== old); }",
        arg=item,
    )


def _queue(ws: Any, *, size: int = 4) -> None:
    ws.label.set_guide(GUIDE)
    ws.label.create_queue(
        "q", "digits@v1", strategy="uncertainty", model="clf@v1", size=size, annotators=["ann1"]
    )


def test_api_next_answer_and_skip_with_write_permission(ws: Any) -> None:
    _queue(ws)
    with TestClient(create_ui_app(ws, write=False), base_url="http://127.0.0.1") as client:
        task = client.get("/api/v1/label/queues/q/next?annotator=ann1").json()
        assert task["remaining"] == 4 and task["task"]["prelabel"] is not None
        assert [c["key"] for c in task["guide"]["classes"]][:2] == ["1", "2"]
        assert "label" not in task["content"]
        refused = client.post(
            "/api/v1/label/queues/q/answer",
            json={"item": task["task"]["item"], "annotator": "ann1", "label": "3"},
        )
        assert refused.status_code == 403
        assert ws.label.annotations() == []
        page = client.get("/ui/label")
        assert page.status_code == 200 and "Queues" in page.text
    with TestClient(create_ui_app(ws, write=True), base_url="http://127.0.0.1") as client:
        item = client.get("/api/v1/label/queues/q/next?annotator=ann1").json()["task"]["item"]
        answer = client.post(
            "/api/v1/label/queues/q/answer",
            json={"item": item, "annotator": "ann1", "label": "3", "duration": 2.5},
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["annotation"]["label"] == "3"
        again = client.post(
            "/api/v1/label/queues/q/answer", json={"item": item, "annotator": "ann1", "label": "3"}
        )
        assert again.status_code == 404
        bad = client.post(
            "/api/v1/label/queues/q/answer", json={"item": "x", "annotator": "ann1", "label": "cat"}
        )
        assert bad.status_code in (400, 404)
        nxt = client.get("/api/v1/label/queues/q/next?annotator=ann1").json()["task"]["item"]
        skipped = client.post(
            "/api/v1/label/queues/q/answer",
            json={"item": nxt, "annotator": "ann1", "action": "skip"},
        )
        assert skipped.json()["status"] == "skipped"
        stale_form = client.post("/ui/label/queues/q", data={"item": nxt, "label": "1"})
        assert stale_form.status_code == 403  # a form post needs this server's token
        overview = client.get("/api/v1/label").json()
        assert overview["queues"][0]["progress"][0] == {
            "annotator": "ann1",
            "open": 2,
            "done": 1,
            "skipped": 1,
        }
    stored = ws.label.annotations()
    assert [(a.item, a.label, a.duration_s, a.queue) for a in stored] == [(item, "3", 2.5, "q")]


@pytest.mark.browser
def test_annotation_page_labels_items_with_the_keyboard(
    ws: Any, ui_server: Any, ui_page: Any, screenshot: Any
) -> None:
    _queue(ws)
    base = ui_server(ws, write=True)
    ui_page.goto(base + "/ui/label")
    ui_page.locator("#queues a", has_text="label").first.click()
    ui_page.wait_for_selector("#item-id")
    assert "Label document v1" in ui_page.locator("details").inner_text()
    assert ui_page.locator("#item-table tr").count() == 65  # digit_id + 64 pixels
    screenshot(ui_page, "label-annotate")
    first = ui_page.locator("#item-id").inner_text()
    prelabel = ui_page.locator("#label-form").get_attribute("data-prelabel")
    ui_page.keyboard.press("Enter")  # accept the pre-label
    _wait_past(ui_page, first)
    second = ui_page.locator("#item-id").inner_text()
    ui_page.keyboard.press("4")  # class '3' is the fourth button: keys 1..9, 0
    _wait_past(ui_page, second)
    third = ui_page.locator("#item-id").inner_text()
    ui_page.keyboard.press("s")
    _wait_past(ui_page, third)
    fourth = ui_page.locator("#item-id").inner_text()
    ui_page.keyboard.press("h")
    ui_page.keyboard.type("two digits")
    ui_page.keyboard.press("Enter")
    ui_page.wait_for_selector("#queue-done")
    stored = {a.item: a for a in ws.label.annotations()}
    assert set(stored) == {first, second, fourth}
    assert stored[first].label == prelabel and stored[second].label == "3"
    assert all(a.annotator == "ann1" and a.queue == "q" for a in stored.values())
    assert stored[first].duration_s is not None and stored[first].guide_version == 1
    assert stored[fourth].hard and stored[fourth].note == "two digits"
    assert stored[fourth].label is None
    statuses = {t.item: t.status for t in ws.label.tasks("q")}
    assert statuses[third] == "skipped"
