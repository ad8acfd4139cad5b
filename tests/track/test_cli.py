"""End to end through the real CLI: flywheel run wraps a script; flywheel track reads it back."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

SCRIPT = """
import sys
import flywheel_ml as fw
ws = fw.open_workspace()
with ws.track.start_run(params={"lr": float(sys.argv[1])}) as run:
    for step in range(20):
        run.log_metric("loss", 1.0 / (step + 1) * float(sys.argv[1]))
    run.log_metrics({"accuracy": 0.9 + float(sys.argv[1]) / 100, "model_mb": 1.0})
print("trained", sys.argv[1])
print("warning to stderr", file=sys.stderr)
sys.exit(int(sys.argv[2]))
"""


@pytest.fixture
def project(tmp_path: Path, cli: Any) -> Path:
    root = tmp_path / "proj"
    assert cli("init", str(root), "--name", "p", cwd=tmp_path).returncode == 0
    (root / "train.py").write_text(SCRIPT)
    return root


def _json(result: Any) -> Any:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_run_wraps_a_script_and_track_reads_it(project: Path, cli: Any) -> None:
    ok = cli(
        "run", "--json", "--tag", "who=me", "--", sys.executable, "train.py", "1", "0", cwd=project
    )
    doc = _json(ok)
    assert doc["status"] == "finished" and doc["exit_code"] == 0
    assert "trained 1" in ok.stderr  # under --json the script's stdout goes to stderr
    failed = cli("run", "--json", "--", sys.executable, "train.py", "5", "3", cwd=project)
    assert failed.returncode == 3
    assert json.loads(failed.stdout)["status"] == "failed"

    shown = _json(cli("track", "show", doc["run"][-8:], "--json", cwd=project))
    assert shown["params"] == {"lr": 1.0}
    assert shown["tags"] == {"who": "me", "exit_code": "0"}
    assert shown["summaries"]["loss"]["count"] == 20
    assert shown["lineage"]["command"] == [sys.executable, "train.py", "1", "0"]
    artifacts = {a["name"]: a for a in shown["artifacts"]}
    assert artifacts["logs/stdout.txt"]["size"] == len("trained 1\n")
    assert "logs/stderr.txt" in artifacts and "lineage/packages.txt" in artifacts

    listed = _json(
        cli(
            "track",
            "list",
            "--where",
            "params.lr < 2",
            "--sort",
            "-metrics.accuracy",
            "--json",
            cwd=project,
        )
    )
    assert listed["total"] == 1 and listed["runs"][0]["id"] == doc["run"]
    both = _json(cli("track", "list", "--sort", "-metrics.accuracy", "--json", cwd=project))
    ids = [r["id"] for r in both["runs"]]
    assert len(ids) == 2 and ids[1] == doc["run"]

    compared = _json(cli("track", "compare", *ids, "--json", cwd=project))
    assert compared["params"]["lr"] == [5.0, 1.0]
    assert "command" in compared["lineage"]

    assert (
        cli(
            "plan",
            "set",
            "--objective",
            "accuracy max",
            "--constraint",
            "model_mb < 0.5",
            cwd=project,
        ).returncode
        == 0
    )
    board = _json(cli("track", "leaderboard", "--json", cwd=project))
    assert [e["run"]["id"] for e in board["entries"]] == ids
    assert board["entries"][0]["failed_constraints"] == ["model_mb < 0.5 (measured 1)"]
    text = cli("track", "leaderboard", cwd=project)
    assert "✗ model_mb < 0.5" in text.stdout

    plot = _json(
        cli("track", "plot", *ids, "--metric", "loss", "--out", "loss.html", "--json", cwd=project)
    )
    html = (project / "loss.html").read_text()
    assert "Plotly.newPlot" in html and len(html) > 1_000_000  # plotly.js inlined
    assert 'src="http' not in html  # nothing fetched from a CDN
    assert plot["points"] and all(n == 20 for n in plot["points"].values())

    assert _json(cli("track", "delete", ids[0], "--json", cwd=project))["deleted"] is True
    assert _json(cli("track", "list", "--json", cwd=project))["total"] == 1
    assert _json(cli("track", "restore", ids[0], "--json", cwd=project))["deleted"] is False


def test_user_errors_are_one_line_and_exit_2(project: Path, cli: Any) -> None:
    bad = cli("track", "list", "--where", "metrics.acc >> 1", cwd=project)
    assert bad.returncode == 2
    assert bad.stderr.startswith("error: ") and len(bad.stderr.strip().splitlines()) == 1
    missing = cli("track", "show", "deadbeef", cwd=project)
    assert missing.returncode == 2 and "no run" in missing.stderr
    png = cli("track", "plot", "deadbeef", "--out", "x.gif", cwd=project)
    assert png.returncode == 2


def test_run_keeps_the_scripts_lines_whole_when_both_streams_share_the_terminal(
    project: Path, cli: Any
) -> None:
    """Under --json the script's stdout goes to stderr too; a line written in pieces is not cut
    by a line of the other stream (two pipes read by two threads would interleave them)."""
    (project / "pieces.py").write_text(
        "import sys, time\n"
        "sys.stdout.write('trained'); sys.stdout.flush(); time.sleep(0.3)\n"
        "sys.stderr.write('warning\\n'); sys.stderr.flush(); time.sleep(0.3)\n"
        "sys.stdout.write(' 1\\n'); sys.stdout.flush()\n"
        "sys.stdout.write('no newline at the end')\n"
    )
    done = cli("run", "--json", "--", sys.executable, "pieces.py", cwd=project)
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert "trained 1" in lines and "warning" in lines
    assert lines[-1] == "no newline at the end"  # a partial last line is not lost
    run = json.loads(done.stdout)["run"]
    shown = _json(cli("track", "show", run[-8:], "--json", cwd=project))
    sizes = {a["name"]: a["size"] for a in shown["artifacts"]}
    assert sizes["logs/stdout.txt"] == len("trained 1\nno newline at the end")
