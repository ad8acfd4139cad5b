"""The ``flywheel registry`` commands, end to end through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.registry.conftest import make_project


def test_register_evaluate_alias_history_card(tmp_path: Path, cli: Any) -> None:
    import flywheel_ml as fw

    root = tmp_path / "ws"
    with fw.init_workspace(root, name="CLI project") as ws:
        project = make_project(ws)
        ws.plan.set(add_constraints=["model_mb < 0.001"])
        good, weak = project.good_run, project.weak_run

    done = cli("registry", "register", good, "--name", "digits-clf", "--json", cwd=root)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["ref"] == "digits-clf@v1"
    blank = tmp_path / "blank.csv"
    blank.write_text(",".join(f"px{i}" for i in range(64)) + "\n" + ",".join(["0"] * 64) + "\n")
    done = cli(
        "registry", "case", "digits-clf", "blank-rejected", "--from", str(blank),
        "--expect", "reject", "--min-score", "0", cwd=root,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    done = cli("registry", "register", weak, "--name", "digits-clf", cwd=root)
    assert done.returncode == 0 and "digits-clf@v2" in done.stdout

    # The size constraint cannot be met: the evaluation fails (exit 1) and says why.
    done = cli("registry", "evaluate", "digits-clf@v1", "--reason", "release", cwd=root)
    assert done.returncode == 1, done.stderr
    assert "FAILED" in done.stdout and "model_mb < 0.001" in done.stdout
    done = cli("--json", "registry", "evaluate", "digits-clf@v1", cwd=root)
    report = json.loads(done.stdout)
    assert report["failed"] == ["model_mb < 0.001"] and report["metrics"]["accuracy"] > 0.8
    assert [g["name"] for g in report["gates"] if g["gate"] == "behaviour"] == ["blank-rejected"]

    done = cli("registry", "alias", "digits-clf", "champion", "v1", cwd=root)
    assert done.returncode == 2
    assert "model_mb < 0.001" in done.stderr and "Traceback" not in done.stderr
    done = cli("registry", "alias", "digits-clf", "champion", "v1", "--override", cwd=root)
    assert done.returncode == 2 and "reason" in done.stderr
    done = cli(
        "registry", "alias", "digits-clf", "champion", "v1", "--override",
        "--reason", "limit under review", cwd=root,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "(override)" in done.stdout

    done = cli("registry", "history", "digits-clf", "--json", cwd=root)
    [move] = json.loads(done.stdout)
    assert move["to_version"] == 1 and move["override"] and move["reason"] == "limit under review"
    assert move["actor"] == "tester"

    done = cli("registry", "unalias", "digits-clf", "candidate", cwd=root)
    assert done.returncode == 2 and "no alias 'candidate'" in done.stderr

    done = cli("registry", "list", "--json", cwd=root)
    rows = {r["ref"]: r for r in json.loads(done.stdout)}
    assert rows["digits-clf@v1"]["aliases"] == ["champion"]
    assert rows["digits-clf@v2"]["evaluation"] is None
    done = cli("registry", "show", "digits-clf@champion", cwd=root)
    assert done.returncode == 0 and "digits-clf@v1" in done.stdout

    done = cli("registry", "card", "digits-clf@champion", "--json", cwd=root)
    assert done.returncode == 0, done.stderr
    paths = json.loads(done.stdout)
    markdown = Path(paths["markdown"]).read_text()
    assert Path(paths["markdown"]).parent == root / "docs"
    assert "# Model card: digits-clf@v1" in markdown
    assert "limit under review" in markdown and "FAIL" in markdown
    assert "<table>" in Path(paths["html"]).read_text()

    done = cli("status", "--json", cwd=root)
    assert "digits-clf@v1" in done.stdout

    done = cli("registry", "show", "nothing@v1", cwd=root)
    assert done.returncode == 2 and "no model named" in done.stderr
