"""PNG export of the tune plots (learning curve, search history, parameter importance, parallel
coordinates) and of ``flywheel track plot``: real images rendered offline by kaleido driving
the machine's Chromium."""

from __future__ import annotations

import json
import shutil
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.tune.conftest import CONFIG

Cli = Callable[..., Any]

pytestmark = pytest.mark.skipif(
    shutil.which("chromium") is None and shutil.which("google-chrome") is None,
    reason="PNG export drives a Chrome/Chromium (CI installs Debian's chromium)",
)


def png_size(path: Path) -> tuple[int, int]:
    """Width and height of a PNG, after checking its signature and IHDR chunk."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name} is not a PNG"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert data.rstrip(b"\0").endswith(b"IEND\xaeB`\x82"), f"{path.name} is truncated"
    # A blank canvas of this size compresses to ~3 KB; axes, lines and text make it larger.
    assert len(data) > 8_000, f"{path.name} has only {len(data)} bytes"
    return width, height


def test_learning_curve_and_study_plots_as_png(digits_ws: Any, tmp_path: Path) -> None:
    from flywheel_ml.reports.tune_plots import write_learning_curve, write_study_plots
    from flywheel_ml.tune import parse_config

    config = parse_config(CONFIG)
    curve = digits_ws.tune.learning_curve(config, sizes=(0.3, 1.0))
    out = write_learning_curve(curve, tmp_path / "curve.png")
    assert png_size(out) == (960, 600)
    digits_ws.tune.search(config, study="png", n_trials=5)
    written = write_study_plots(digits_ws.tune.study_report("png").handle, tmp_path / "s", png=True)
    assert {"history_png", "parallel_png", "importance_png"} <= set(written)
    for key in ("history", "parallel", "importance"):
        assert written[key].suffix == ".html"
        assert png_size(written[f"{key}_png"]) == (960, 600)
    assert not list((tmp_path / "s").glob(".*partial"))


def test_cli_writes_png_plots(tmp_path: Path, cli: Cli) -> None:
    from sklearn.datasets import load_digits

    root = tmp_path / "p"
    assert cli("init", str(root), cwd=tmp_path).returncode == 0
    frame = load_digits(as_frame=True).frame.iloc[:300]
    frame.columns = [f"px{i}" for i in range(64)] + ["label"]
    frame.insert(0, "digit_id", [f"d{i:04d}" for i in range(len(frame))])
    frame.to_csv(root / "digits.csv", index=False)
    added = cli("data", "add", "digits.csv", "--name", "digits", "--label", "label", "--id",
                "digit_id", cwd=root)  # fmt: skip
    assert added.returncode == 0, added.stderr
    (root / "configs" / "tree.yaml").write_text(CONFIG)

    bad = cli("tune", "learning-curve", "configs/tree.yaml", "--plot", "curve.gif", cwd=root)
    assert bad.returncode == 2 and ".png" in bad.stderr and "Traceback" not in bad.stderr
    listed = json.loads(cli("--json", "track", "list", cwd=root).stdout)
    assert listed["runs"] == [], "a bad plot name must fail before any run"

    curve = cli("--json", "tune", "learning-curve", "configs/tree.yaml", "--sizes", "0.5,1.0",
                "--plot", "curve.png", cwd=root)  # fmt: skip
    assert curve.returncode == 0, curve.stderr
    assert png_size(root / "curve.png") == (960, 600)
    run_id = json.loads(curve.stdout)["run_id"]
    plotted = cli("track", "plot", run_id[-8:], "--metric", "val_accuracy", "--out", "m.png",
                  cwd=root)  # fmt: skip
    assert plotted.returncode == 0, plotted.stderr
    assert png_size(root / "m.png") == (960, 600)

    searched = cli("tune", "search", "configs/tree.yaml", "--trials", "4", cwd=root)
    assert searched.returncode == 0, searched.stderr
    shown = json.loads(cli("--json", "tune", "show", "tree", "--png", cwd=root).stdout)
    for key in ("history_png", "parallel_png"):
        assert png_size(Path(shown["plots"][key])) == (960, 600)
