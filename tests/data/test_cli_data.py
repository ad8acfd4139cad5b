"""The ``flywheel data`` and ``flywheel docs data`` commands, driven through the real CLI."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess

import pandas as pd

from tests.data.conftest import reviews_frame

Cli = Callable[..., CompletedProcess[str]]


def _json(done: CompletedProcess[str]) -> object:
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_data_commands_end_to_end(cli: Cli, tmp_path: Path, pets_folder: Path) -> None:
    ws = tmp_path / "ws"
    assert cli("init", str(ws), cwd=tmp_path).returncode == 0
    done = cli("data", "split-policy", "--train", "0.7", "--val", "0.1", "--test", "0.2",
               "--seed", "5", cwd=ws)  # fmt: skip
    assert done.returncode == 0, done.stderr
    csv = tmp_path / "train.csv"
    reviews_frame(200).to_csv(csv, index=False)
    added = _json(cli("--json", "data", "add", str(csv), "--name", "reviews", "--label",
                      "sentiment", "--id", "review_id", "-m", "first crawl", cwd=ws))  # fmt: skip
    assert isinstance(added, dict) and added["ref"] == "reviews@v1" and not added["unchanged"]
    again = _json(cli("data", "add", str(csv), "--name", "reviews", "--json", cwd=ws))
    assert isinstance(again, dict) and again["unchanged"]
    reviews_frame(260).to_csv(csv, index=False)
    assert cli("data", "add", str(csv), "--name", "reviews", "-m", "more", cwd=ws).returncode == 0
    assert cli("data", "add", str(pets_folder), "--name", "pets", "--label-from-folder",
               cwd=ws).returncode == 0  # fmt: skip

    listed = _json(cli("data", "list", "--json", cwd=ws))
    assert isinstance(listed, list)
    assert {d["name"]: d["latest"]["ref"] for d in listed} == {
        "pets": "pets@v1",
        "reviews": "reviews@v2",
    }
    versions = _json(cli("data", "versions", "reviews", "--json", cwd=ws))
    assert isinstance(versions, list)
    assert [v["message"] for v in versions] == ["first crawl", "more"]
    text = cli("data", "versions", "reviews", cwd=ws).stdout
    assert "reviews@v2" in text and "first crawl" in text
    shown = _json(cli("data", "show", "reviews@v2", "--json", cwd=ws))
    assert isinstance(shown, dict)
    assert shown["facts"]["schema"]["columns"]["hour"]["type"] == "integer"
    diff = _json(cli("data", "diff", "reviews@v1", "reviews@v2", "--json", cwd=ws))
    assert isinstance(diff, dict) and len(diff["added"]) == 60 and not diff["removed"]
    splits = _json(cli("data", "splits", "reviews@v2", "--json", cwd=ws))
    assert isinstance(splits, dict) and splits["policy"]["seed"] == 5
    assert sum(s["items"] for s in splits["splits"].values()) == 260

    check = cli("data", "check", "reviews@v2", cwd=ws)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "passed" in check.stdout

    out = tmp_path / "export"
    done = cli("data", "export", "reviews@v2", "--to", str(out), "--format", "csv", cwd=ws)
    assert done.returncode == 0, done.stderr
    exported = pd.read_csv(out / "reviews-v2.csv")
    assert len(exported) == 260
    assert exported.sentiment.isna().sum() == splits["splits"]["test"]["items"]
    assert cli("data", "export", "pets@v1", "--to", str(tmp_path / "p"), "--purpose", "audit me",
               cwd=ws).returncode == 0  # fmt: skip
    audit = _json(cli("data", "audit", "--json", cwd=ws))
    assert isinstance(audit, list) and [a["purpose"] for a in audit] == ["audit me"]

    sliced = _json(cli("data", "slice", "add", "reviews", "night", "--where",
                       "hour >= 20 or hour < 6", "--json", cwd=ws))  # fmt: skip
    assert isinstance(sliced, dict) and sum(sliced["latest"].values()) > 0
    assert "reviews/night" in cli("data", "slice", "list", cwd=ws).stdout

    status = cli("--json", "status", cwd=ws)
    assert status.returncode == 0, status.stderr
    data_stage = next(s for s in json.loads(status.stdout)["stages"] if s["stage"] == "data")
    assert "reviews@v2" in data_stage["deliverables"][0]["evidence"], status.stdout


def test_check_fails_with_exit_1_and_errors_exit_2(cli: Cli, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    assert cli("init", str(ws), cwd=tmp_path).returncode == 0
    csv = tmp_path / "t.csv"
    reviews_frame(100).to_csv(csv, index=False)
    assert cli("data", "add", str(csv), "--name", "r", "--label", "sentiment",
               cwd=ws).returncode == 0  # fmt: skip
    reviews_frame(100).drop(columns=["stars"]).to_csv(csv, index=False)
    assert cli("data", "add", str(csv), "--name", "r", cwd=ws).returncode == 0
    failed = cli("data", "check", "r@v2", cwd=ws)
    assert failed.returncode == 1
    assert "vanished" in failed.stdout
    missing = cli("data", "show", "r@v7", cwd=ws)
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1
    bad = cli("data", "add", str(tmp_path / "nope.csv"), "--name", "r", cwd=ws)
    assert bad.returncode == 2 and "no such file" in bad.stderr
    sealed = cli("data", "split-policy", "--train", "0.5", "--val", "0.25", "--test", "0.25",
                 cwd=ws)  # fmt: skip
    assert sealed.returncode == 2 and "already set" in sealed.stderr


def test_docs_data_keeps_human_sections(cli: Cli, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    assert cli("init", str(ws), cwd=tmp_path).returncode == 0
    csv = tmp_path / "t.csv"
    reviews_frame(120).to_csv(csv, index=False)
    assert cli("data", "add", str(csv), "--name", "reviews", "--label", "sentiment",
               cwd=ws).returncode == 0  # fmt: skip
    first = _json(cli("docs", "data", "reviews", "--json", cwd=ws))
    assert isinstance(first, dict) and "motivation" in first["unwritten"]
    doc = ws / "docs" / "data-reviews.md"
    text = doc.read_text()
    assert "## Class balance" in text and "reviews@v1" in text and "| train |" in text
    start = text.index("<!-- human:motivation -->") + len("<!-- human:motivation -->")
    end = text.index("<!-- /human:motivation -->")
    written = "\nWe sort reviews by mood. <script>alert(1)</script> <img src=x onerror=alert(2)>\n"
    doc.write_text(text[:start] + written + text[end:])
    reviews_frame(150).to_csv(csv, index=False)
    assert cli("data", "add", str(csv), "--name", "reviews", cwd=ws).returncode == 0
    second = _json(cli("docs", "data", "reviews", "--json", cwd=ws))
    assert isinstance(second, dict) and "motivation" not in second["unwritten"]
    text = doc.read_text()
    assert "We sort reviews by mood." in text and "reviews@v2" in text
    html = (ws / "docs" / "data-reviews.html").read_text()
    assert html.count("<table>") >= 3
    # A human section is user input: its HTML is shown as text, never run; markers are hidden.
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "We sort reviews by mood." in html
    assert "human:motivation" not in html
    status = cli("status", "--json", cwd=ws)
    stages = {s["stage"]: s for s in json.loads(status.stdout)["stages"]}
    assert stages["data"]["done"]
