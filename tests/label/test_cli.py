"""``flywheel label`` end to end through the real command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.label.conftest import digits_frame


def test_label_commands_end_to_end(cli: Any, tmp_path: Path) -> None:
    root = tmp_path / "ws"
    assert cli("init", str(root), cwd=tmp_path).returncode == 0
    frame = digits_frame(200)
    frame.to_csv(tmp_path / "digits.csv", index=False)

    def run(*args: str) -> Any:
        result = cli("--json", *args, cwd=root)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    run(
        "data",
        "add",
        str(tmp_path / "digits.csv"),
        "--name",
        "digits",
        "--label",
        "label",
        "--id",
        "digit_id",
    )
    (tmp_path / "guide.yaml").write_text("classes: [0,1,2,3,4,5,6,7,8,9]\n")
    assert run("label", "guide", "set", str(tmp_path / "guide.yaml"))["version"] == 1
    assert run("label", "guide", "show")["classes"][0]["name"] == "0"
    ids = frame["digit_id"].tolist()[:30]
    labels = frame["label"].tolist()[:30]
    for who, every in (("ann1", 6), ("ann2", 4)):
        rows = [
            {"item": i, "label": int(v) if n % every else (int(v) + 1) % 10}
            for n, (i, v) in enumerate(zip(ids, labels, strict=True))
        ]
        path = tmp_path / f"{who}.jsonl"
        path.write_text("\n".join(json.dumps(r) for r in rows))
        assert run("label", "import", str(path), "--annotator", who)["annotations"] == 30
    agreement = run("label", "agreement")
    assert agreement["items"] == 30 and 0 < agreement["alpha_nominal"] < 1
    aggregated = run("label", "aggregate", "--method", "dawid-skene")
    assert {s["name"] for s in aggregated["sources"]} == {"ann1", "ann2"}
    applied = run("label", "apply", "-m", "round 1")
    assert applied["ref"] == "digits@v2"
    queue = run(
        "label",
        "queue",
        "create",
        "digits@v2",
        "--name",
        "q1",
        "--strategy",
        "diversity",
        "--size",
        "10",
        "--overlap",
        "0.2",
        "--annotators",
        "ann1,ann2",
    )
    assert queue["tasks"] == 12
    assert run("label", "queue", "list")[0]["open"] == 12
    shown = run("label", "queue", "show", "q1")
    assert {p["annotator"] for p in shown["progress"]} == {"ann1", "ann2"}
    suspects = run("label", "suspects", "digits@v2", "--top", "5", "--queue", "review")
    assert len(suspects["suspects"]) <= 5 and suspects["checked"] > 100
    assert run("label", "hard") == []
    (root / "mylfs.py").write_text("def zero(items):\n    return [None] * len(items)\n")
    assert run("label", "lf", "add", "zero", "--python", "mylfs:zero")["target"] == "mylfs:zero"
    assert run("label", "lf", "list")[0]["name"] == "zero"
    status = run("status")
    label_stage = next(s for s in status["stages"] if s["stage"] == "label")
    assert label_stage["done"] is True  # guide, annotations, agreement, label-error list
    # A human run prints text.
    text = cli("label", "agreement", cwd=root)
    assert text.returncode == 0 and "Krippendorff" in text.stdout


def test_user_errors_exit_2_with_one_line(cli: Any, tmp_path: Path) -> None:
    root = tmp_path / "ws"
    cli("init", str(root), cwd=tmp_path)
    frame = digits_frame(50)
    frame.to_csv(tmp_path / "digits.csv", index=False)
    cli(
        "data",
        "add",
        str(tmp_path / "digits.csv"),
        "--name",
        "digits",
        "--label",
        "label",
        "--id",
        "digit_id",
        cwd=root,
    )
    (tmp_path / "x.jsonl").write_text('{"item": "missing", "label": 1}\n')
    result = cli("label", "import", str(tmp_path / "x.jsonl"), "--annotator", "a", cwd=root)
    assert result.returncode == 2
    assert "not in digits" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    result = cli(
        "label",
        "queue",
        "create",
        "digits@v1",
        "--strategy",
        "entropy",
        "--annotators",
        "a",
        cwd=root,
    )
    assert result.returncode == 2 and "--model" in result.stderr


def test_guide_edit_opens_the_editor_and_lists_stale_items(cli: Any, tmp_path: Path) -> None:
    root = tmp_path / "ws"
    cli("init", str(root), cwd=tmp_path)
    digits_frame(20).to_csv(tmp_path / "digits.csv", index=False)
    cli(
        "data",
        "add",
        str(tmp_path / "digits.csv"),
        "--name",
        "digits",
        "--label",
        "label",
        "--id",
        "digit_id",
        cwd=root,
    )
    editor = tmp_path / "editor.sh"
    editor.write_text('#!/bin/sh\nprintf "classes: [\\"0\\", \\"1\\"]\\nnotes: $NOTE\\n" > "$1"\n')
    editor.chmod(0o755)
    env = {"EDITOR": str(editor), "VISUAL": str(editor), "NOTE": "first"}
    first = cli("--json", "label", "guide", "edit", cwd=root, env=env)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["version"] == 1
    (tmp_path / "a.jsonl").write_text('{"item": "d0001", "label": "1"}\n')
    cli("label", "import", str(tmp_path / "a.jsonl"), "--annotator", "ann1", cwd=root)
    second = cli("--json", "label", "guide", "edit", cwd=root, env={**env, "NOTE": "second"})
    data = json.loads(second.stdout)
    assert data["version"] == 2 and data["notes"] == "second"
    assert data["stale_items"] == [{"dataset": "digits", "item": "d0001"}]
