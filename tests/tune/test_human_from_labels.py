"""The human baseline taken from label agreement: two annotators label the same items, their
mean accuracy against consensus becomes the ceiling (with its provenance) and the reference of
``diagnose``."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from flywheel_ml.errors import InvalidInputError
from flywheel_ml.tune import parse_config
from tests.tune.conftest import CONFIG

Cli = Callable[..., Any]


def annotate_twice(ws: Any, tmp_path: Path, count: int = 40) -> None:
    """``ann1`` and ``ann2`` label the first ``count`` digits; ann2 differs on every 5th."""
    frame = ws.data.load("digits@latest", split="train")  # test labels stay sealed
    rows = frame[["digit_id", "label"]].head(count).to_numpy()
    for name, every in (("ann1", 0), ("ann2", 5)):
        path = tmp_path / f"{name}.jsonl"
        path.write_text(
            "".join(
                json.dumps(
                    {
                        "item": str(item),
                        "label": (int(label) + 1) % 10 if every and n % every == 0 else int(label),
                    }
                )
                + "\n"
                for n, (item, label) in enumerate(rows)
            )
        )
        ws.label.import_annotations(path, dataset="digits", annotator=name)


def test_human_baseline_from_label_agreement(digits_ws: Any, tmp_path: Path) -> None:
    ws = digits_ws
    run = ws.tune.train(parse_config(CONFIG))
    assert ws.tune.diagnose(run.id).human_source.startswith("none recorded")
    with pytest.raises(InvalidInputError, match="no label agreement"):
        ws.tune.record_human_baseline_from_labels()
    with pytest.raises(InvalidInputError, match="two annotators"):
        ws.tune.record_human_baseline_from_labels("digits")

    annotate_twice(ws, tmp_path)
    report = ws.label.agreement("digits")
    assert report.items == 40 and 0.7 < report.mean_accuracy < 0.9
    # With an agreement recorded and no human baseline run, diagnose takes the agreement.
    found = ws.tune.diagnose(run.id)
    assert found.human_source == "label agreement of digits (40 items)"
    assert found.human_error == pytest.approx(1 - report.mean_accuracy)

    human = ws.tune.record_human_baseline_from_labels("digits")
    assert human.metrics["val_accuracy"] == pytest.approx(report.mean_accuracy)
    assert human.tags["baseline"] == "human" and human.tags["kind"] == "baseline"
    assert human.tags["source"] == "label_agreement"
    assert human.tags["agreement_dataset"] == "digits"
    assert human.tags["annotators"] == "ann1,ann2"
    assert human.tags["agreement_items"] == "40"
    assert human.tags["agreement_at"] == ws.label.human_baseline("digits")["at"].isoformat()
    assert "2 annotators" in human.tags["note"]
    assert "agreement_alpha_nominal" in human.metrics
    assert human.datasets == ("digits@v1",)
    assert ws.tune.human_baseline().id == human.id
    found = ws.tune.diagnose(run.id)
    assert found.human_source == f"human baseline {human.short_id} (label agreement of digits)"

    # A value given by hand later wins (the newest human baseline is the reference).
    manual = ws.tune.record_human_baseline(0.97, note="expert panel")
    assert manual.tags["source"] == "manual"
    assert ws.tune.diagnose(run.id).human_error == pytest.approx(0.03)


def test_cli_baseline_human_from_labels(tmp_path: Path, cli: Cli) -> None:
    from sklearn.datasets import load_digits

    root = tmp_path / "p"
    assert cli("init", str(root), cwd=tmp_path).returncode == 0
    frame = load_digits(as_frame=True).frame.iloc[:200]
    frame.columns = [f"px{i}" for i in range(64)] + ["label"]
    frame.insert(0, "digit_id", [f"d{i:04d}" for i in range(len(frame))])
    frame.to_csv(root / "digits.csv", index=False)
    added = cli("data", "add", "digits.csv", "--name", "digits", "--label", "label", "--id",
                "digit_id", cwd=root)  # fmt: skip
    assert added.returncode == 0, added.stderr
    for name, wrong in (("ann1", set()), ("ann2", {0, 5, 10})):
        lines = [
            json.dumps({"item": f"d{i:04d}", "label": (int(y) + 1) % 10 if i in wrong else int(y)})
            for i, y in enumerate(frame["label"].head(20))
        ]
        (root / f"{name}.jsonl").write_text("\n".join(lines) + "\n")
        imported = cli("label", "import", f"{name}.jsonl", "--dataset", "digits", "--annotator",
                       name, cwd=root)  # fmt: skip
        assert imported.returncode == 0, imported.stderr

    both = cli("baseline", "human", "--value", "0.9", "--from-labels", cwd=root)
    assert both.returncode == 2 and "exactly one" in both.stderr
    done = cli("--json", "baseline", "human", "--from-labels", "--dataset", "digits", cwd=root)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["human"]["source"] == "label_agreement"
    assert data["human"]["value"] == pytest.approx(0.85)  # each agrees with the other on 17/20
    roles = {row["baseline"]: row["role"] for row in data["baselines"]}
    assert roles == {"human": "ceiling"}
