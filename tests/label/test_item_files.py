"""Item files on the annotation page: the read-only route that serves a folder dataset's file by
(version, item id), over the real CLI and a real server, and the image shown in Chromium."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

NOTE = "A handwritten note: is it a cat or a dog?\n"


def _png(width: int, height: int, shade: int) -> bytes:
    """A valid grey PNG (no imaging library needed)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + bytes([shade]) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def pics(cli: Any, tmp_path: Path) -> Iterator[tuple[Any, Path]]:
    """A workspace made with the CLI: folder dataset ``pics`` (two PNGs, a text file, labels
    from folders), table dataset ``rows``, and queue ``pq`` of every pics item for ann1."""
    import flywheel_ml as fw

    folder = tmp_path / "pics"
    (folder / "cat").mkdir(parents=True)
    (folder / "dog").mkdir()
    (folder / "cat" / "one.png").write_bytes(_png(12, 7, 40))
    (folder / "dog" / "two.png").write_bytes(_png(5, 9, 200))
    (folder / "dog" / "note.txt").write_text(NOTE)
    (tmp_path / "rows.csv").write_text("row_id,x,label\nr1,1.0,a\nr2,2.0,b\n")
    root = tmp_path / "ws"
    for args in (
        ("init", str(root)),
        ("data", "add", str(folder), "--name", "pics", "--label-from-folder"),
        ("data", "add", str(tmp_path / "rows.csv"), "--name", "rows", "--label", "label",
         "--id", "row_id"),
        ("label", "queue", "create", "pics@v1", "--name", "pq", "--annotators", "ann1",
         "--size", "3", "--include-test"),
    ):  # fmt: skip
        done = cli(*args, cwd=tmp_path if args[0] == "init" else root)
        assert done.returncode == 0, done.stderr
    ws = fw.open_workspace(root)
    try:
        yield ws, folder
    finally:
        ws.close()


def _items(ws: Any) -> dict[str, str]:
    """item id -> relative path of every pics file."""
    frame = ws.data.load("pics@v1", purpose="test: map item ids to files")
    return dict(zip(frame["item_id"], frame["path"], strict=True))


def test_item_files_are_served_by_version_and_id_only(pics: Any, ui_server: Any) -> None:
    ws, folder = pics
    base = ui_server(ws)
    by_path = {path: item for item, path in _items(ws).items()}
    with httpx.Client(base_url=base + "/api/v1/label/items") as client:
        image = client.get(f"/pics@v1/{by_path['cat/one.png']}")
        assert image.status_code == 200
        assert image.headers["content-type"] == "image/png"
        assert image.content == (folder / "cat" / "one.png").read_bytes()
        text = client.get(f"/pics@latest/{by_path['dog/note.txt']}")
        assert text.headers["content-type"].startswith("text/plain")
        assert text.text == NOTE
        missing = (
            "/pics@v1/" + "0" * 32,  # no such item
            "/pics@v9/" + by_path["cat/one.png"],  # no such version
            "/rows@v1/r1",  # a table dataset: rows, not files
            "/pics@v1/..%2F..%2Fflywheel.toml",  # an escaped slash never reaches a lookup
            "/..%2Fpics@v1/x",
        )
        for url in missing:
            answer = client.get(url)
            assert answer.status_code == 404, url
            assert answer.headers["content-type"] == "application/json", url
            assert answer.json()["message"]
        # Ids are looked up in the manifest, never used as paths; path-like ids are refused.
        for bad in ("/pics@v1/%2E%2E", "/pics@v1/a..b", "/pics@v1/a%5Cb", "/%2E%2E/x"):
            answer = client.get(bad)
            assert answer.status_code == 422, bad
            assert "is not a" in answer.json()["message"]


@pytest.mark.browser
def test_annotation_page_shows_the_image_and_the_text(
    pics: Any, ui_server: Any, ui_page: Any, screenshot: Any
) -> None:
    ws, _ = pics
    paths = _items(ws)
    base = ui_server(ws, write=True)
    seen: set[str] = set()
    ui_page.goto(base + "/ui/label/queues/pq?annotator=ann1")
    for _ in range(3):
        ui_page.wait_for_selector("#item-id")
        item = ui_page.locator("#item-id").inner_text()
        path = paths[item]
        page_text = ui_page.locator("#item-card").inner_text()
        assert path not in page_text  # the label folder (cat/, dog/) is not shown
        if path.endswith(".png"):
            ui_page.wait_for_function(
                "() => { const img = document.getElementById('item-image');"
                " return img && img.complete && img.naturalWidth > 0; }"
            )
            size = ui_page.evaluate(
                "() => { const img = document.getElementById('item-image');"
                " return [img.naturalWidth, img.naturalHeight]; }"
            )
            assert size == ([12, 7] if path == "cat/one.png" else [5, 9])
            screenshot(ui_page, "label-annotate-image")
        else:
            assert ui_page.locator("#item-text").inner_text().strip() == NOTE.strip()
        seen.add(path)
        ui_page.keyboard.press("s")  # skip to the next item
        ui_page.wait_for_function(
            "(old) => { const el = document.getElementById('item-id'); "
            "return document.getElementById('queue-done') || (el && el.innerText !== old); }",
            arg=item,
        )
    assert seen == {"cat/one.png", "dog/two.png", "dog/note.txt"}


def test_on_the_team_server_an_annotator_gets_only_their_queues_files(tmp_path: Path) -> None:
    import flywheel_ml as fw
    from flywheel_ml.label import QueueItem
    from flywheel_ml.server.team_app import create_team_app
    from tests.server.team_live import live_server

    folder = tmp_path / "pics"
    for name, shade in (("a", 10), ("b", 90), ("c", 170)):
        (folder / "cat").mkdir(parents=True, exist_ok=True)
        (folder / "cat" / f"{name}.png").write_bytes(_png(4, 4, shade))
    ws = fw.init_workspace(tmp_path / "ws", name="Team files")
    try:
        ws.data.add(folder, name="pics", label_from_folder=True)
        items = sorted(_items(ws))
        ws.label.enqueue("alice-q", [QueueItem(item=items[0])], dataset="pics",
                         annotators=["alice"])  # fmt: skip
        ws.label.enqueue("bob-q", [QueueItem(item=items[1])], dataset="pics",
                         annotators=["bob"])  # fmt: skip
        tokens = {}
        for user, role in (("alice", "annotator"), ("vic", "viewer"), ("sam", "scientist")):
            ws.access.add_user(user, role=role, actor="root")
            tokens[user] = ws.access.create_token(user, expires="1d").token
        with live_server(create_team_app(ws)) as url:

            def get(user: str, item: str) -> httpx.Response:
                return httpx.get(
                    f"{url}/api/v1/label/items/pics@v1/{item}",
                    headers={"authorization": f"Bearer {tokens[user]}"},
                    timeout=30,
                )

            assert get("alice", items[0]).status_code == 200
            assert get("alice", items[0]).headers["content-type"] == "image/png"
            for other in items[1:]:  # bob's item, and an item in no queue: as if missing
                refused = get("alice", other)
                assert refused.status_code == 404 and refused.json()["message"]
            assert get("vic", items[0]).status_code == 403  # viewers read no data files
            assert get("sam", items[2]).status_code == 200  # scientists see every item
    finally:
        ws.close()
