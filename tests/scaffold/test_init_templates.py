"""``flywheel init --template``: a scaffolded project trains and registers with no edits."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from flywheel_ml.scaffold.sample_data import png_bytes
from tests.conftest import FLYWHEEL

LAYOUT = (
    ".gitignore",
    ".github/workflows/ci.yml",
    "README.md",
    "api/client.py",
    "notebooks/explore.ipynb",
    "pyproject.toml",
    "src/{pkg}/__init__.py",
    "src/{pkg}/datasets.py",
    "src/{pkg}/models.py",
    "src/{pkg}/train.py",
    "tests/test_datasets.py",
    "tests/test_models.py",
)


def _json(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize(
    ("template", "config", "dataset"),
    [("classification", "rf", "tabular"), ("text", "logreg", "reviews"), ("image", "rf", "digits")],
)
def test_scaffolded_project_trains_and_registers_with_no_edits(
    template: str, config: str, dataset: str, tmp_path: Path, cli: Any
) -> None:
    made = _json(cli("--json", "init", "--template", template, "my-proj", cwd=tmp_path))
    root = tmp_path / "my-proj"
    assert made["package"] == "my_proj" and made["config"] == f"configs/{config}.yaml"
    assert made["dataset_added"] == f"{dataset}@v1" and made["kept"] == []
    for path in LAYOUT:
        assert (root / path.format(pkg="my_proj")).is_file(), path
    assert yaml.safe_load((root / ".github/workflows/ci.yml").read_text())["jobs"]["test"]
    json.loads((root / "notebooks/explore.ipynb").read_text())  # a valid notebook
    for source in [*(root / "src/my_proj").glob("*.py"), root / "api/client.py"]:
        compile(source.read_text(), str(source), "exec")
    run = _json(cli("--json", "train", f"configs/{config}.yaml", cwd=root))
    assert run["metrics"]["val_accuracy"] > 0.8, run["metrics"]
    # The register command exactly as the project's README gives it.
    readme = (root / "README.md").read_text()
    line = next(x for x in readme.splitlines() if x.startswith("flywheel registry register"))
    args = line.split("#")[0].split()[1:]
    version = _json(cli("--json", *[run["id"] if a == "RUN_ID" else a for a in args], cwd=root))
    assert version["ref"] == f"{dataset}-clf@v1" and version["run_id"] == run["id"]
    assert cli("serve", "deploy", version["ref"], cwd=root).returncode == 0
    assert f"{dataset}-clf" in _predict_with_api_client(root, text=template == "text")
    # The project's own tests pass on its sample data, as its CI workflow runs them.
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=root, capture_output=True, text=True, check=False,
        env={**os.environ, "PYTHONPATH": str(root / "src")},
    )  # fmt: skip
    assert tests.returncode == 0, tests.stdout + tests.stderr


def _predict_with_api_client(root: Path, *, text: bool) -> str:
    """The output of the project's api/client.py against its deployed champion."""
    env = {**os.environ, "PYTHONPATH": str(root / "src")}
    client = [sys.executable, str(root / "api/client.py")]
    if text:  # in-process: the gateway takes numeric features
        done = subprocess.run(
            [*client, "the kettle is great"], cwd=root, capture_output=True, text=True,
            check=False, env=env,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "['positive']"
        return f"reviews-clf {done.stdout}"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    gateway = subprocess.Popen(
        [FLYWHEEL, "serve", "start", "--port", str(port)], cwd=root,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(240):  # wait for it to listen (slow on a loaded machine)
            with socket.socket() as attempt:
                if attempt.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.25)
        done = subprocess.run(
            [*client, f"http://127.0.0.1:{port}"], cwd=root, capture_output=True, text=True,
            check=False, env=env,
        )  # fmt: skip
    finally:
        gateway.terminate()
        gateway.wait(timeout=30)
    assert done.returncode == 0, done.stderr
    assert "'model_version'" in done.stdout and "'predictions'" in done.stdout
    return done.stdout


def test_running_again_keeps_every_file_and_adds_what_is_missing(tmp_path: Path, cli: Any) -> None:
    assert cli("init", "--template", "classification", "p", cwd=tmp_path).returncode == 0
    root = tmp_path / "p"
    (root / "configs/rf.yaml").write_text("# mine\n")
    (root / "api/client.py").unlink()
    again = _json(cli("--json", "init", "--template", "classification", "p", cwd=tmp_path))
    assert again["written"] == ["api/client.py"]
    assert "configs/rf.yaml" in again["kept"] and "data/tabular.csv" in again["kept"]
    assert again["dataset_added"] == ""  # the dataset exists: no second version
    assert (root / "configs/rf.yaml").read_text() == "# mine\n"
    text = cli("init", "--template", "classification", "p", cwd=tmp_path)
    assert "Kept 14 existing file(s)" in text.stdout and "configs/rf.yaml" in text.stdout


def test_a_user_project_keeps_its_files(tmp_path: Path, cli: Any) -> None:
    root = tmp_path / "mine"
    (root / "data").mkdir(parents=True)
    (root / ".gitignore").write_text("secrets/\n")
    done = _json(cli("--json", "init", "--template", "text", str(root), cwd=tmp_path))
    assert ".gitignore" in done["kept"] and (root / ".gitignore").read_text() == "secrets/\n"


def test_image_template_writes_real_pngs_that_its_package_reads(tmp_path: Path, cli: Any) -> None:
    assert cli("init", "--template", "image", "img", cwd=tmp_path).returncode == 0
    root = tmp_path / "img"
    pngs = sorted((root / "data/images").glob("*/*.png"))
    assert len(pngs) == 1797 and {p.parent.name for p in pngs} == {str(d) for d in range(10)}
    assert pngs[0].read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    # The project's datasets.py rebuilds the pixel table from the images, equal to the one added.
    rebuilt = subprocess.run(
        [sys.executable, "-c", "from img.datasets import images_to_table as f; "
         "import sys; f(out=__import__('pathlib').Path(sys.argv[1]))", str(tmp_path / "t.csv")],
        cwd=root, capture_output=True, text=True, check=False,
        env={**os.environ, "PYTHONPATH": str(root / "src")},
    )  # fmt: skip
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert (tmp_path / "t.csv").read_text() == (root / "data/digits.csv").read_text()


def test_png_bytes_round_trip_through_zlib() -> None:
    import zlib

    blob = png_bytes(list(range(16)), width=4, height=4)
    start = blob.index(b"IDAT") + 4
    raw = zlib.decompress(blob[start:-16])
    assert raw == b"".join(b"\x00" + bytes(range(r * 4, r * 4 + 4)) for r in range(4))


def test_unknown_template_is_refused_before_anything_is_written(tmp_path: Path, cli: Any) -> None:
    bad = cli("init", "--template", "audio", "x", cwd=tmp_path)
    assert bad.returncode == 2 and "classification, text, image" in bad.stderr
    assert not (tmp_path / "x").exists()
    bad = cli("init", "--template", "text", "--package", "9x", "y", cwd=tmp_path)
    assert bad.returncode == 2 and "not a Python package name" in bad.stderr
