"""``flywheel export docker``: the image recipe is built without Docker and really predicts.

The Dockerfile is carried out step by step on this machine: ``FROM`` must name this Python,
``COPY``/``WORKDIR``/``ENV`` map the image's ``/`` to a folder, ``RUN pip install`` runs in a
fresh venv (from PyPI) with exactly the recipe's arguments, and ``CMD`` starts the gateway from
that venv alone, which must answer a prediction equal to the registered model's.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
import pytest

from flywheel_ml.errors import ConflictError, NotFoundError
from flywheel_ml.serve.bundle import BundleDeployments, BundleResolver, read_manifest
from tests.server.team_live import free_port

Cli = Callable[..., subprocess.CompletedProcess[str]]
FEATURES = [f"px{i}" for i in range(64)]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A workspace with a linear model (served by its numpy kernel) and a tree (scikit-learn)."""
    import pandas as pd
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression
    from sklearn.tree import DecisionTreeClassifier

    import flywheel_ml as fw

    root = tmp_path_factory.mktemp("export") / "ws"
    ws = fw.init_workspace(root, name="Export")
    digits = load_digits()
    frame = pd.DataFrame(digits.data[:300], columns=FEATURES)
    frame["label"] = digits.target[:300]
    frame["item"] = [f"d{i:04d}" for i in range(300)]
    ws.data.add(frame, name="digits", label="label", id="item")
    train = ws.data.load("digits@latest", split="train")
    X, y = train[FEATURES].to_numpy(), train["label"].to_numpy()
    fitted = {
        "digits-lin": (LogisticRegression(max_iter=300), []),
        "digits-tree": (
            DecisionTreeClassifier(max_depth=6, random_state=0),
            ["sklearn.tree._tree.Tree"],
        ),
    }
    for name, (model, trusted) in fitted.items():
        with ws.track.start_run(name=name, datasets=["digits"]) as run:
            model.fit(X, y)
            run.log_model(model)
            run_id = str(run.id)
        version = ws.registry.register(run_id, name=name, trusted=trusted)
        ws.registry.set_alias(name, "champion", version.version, override=True, reason="test")
    ws.close()
    return root


def _build_and_start(
    context: Path, dockerfile: Path, rootfs: Path, port: int
) -> subprocess.Popen[str]:
    """Carry out the Dockerfile's steps with ``rootfs`` as the image's ``/``; start its CMD."""
    venv = rootfs / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = str(venv / "bin" / "python")
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root")}
    workdir = rootfs

    def inside(path: str) -> str:
        return str(rootfs / path.lstrip("/")) if path.startswith("/") else path

    runs: list[list[str]] = []
    command: list[str] = []
    for line in dockerfile.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        if word == "FROM":
            major_minor = f"{sys.version_info.major}.{sys.version_info.minor}"
            assert rest == f"python:{major_minor}-slim", "the image's Python must be the tested one"
        elif word == "WORKDIR":
            workdir = Path(inside(rest))
            workdir.mkdir(parents=True, exist_ok=True)
        elif word == "COPY":
            source, target = rest.split()
            assert (context / source).exists() and ".." not in source
            subprocess.run(["cp", "-r", str(context / source), inside(target)], check=True)
        elif word == "ENV":
            for pair in shlex.split(rest):
                key, _, value = pair.partition("=")
                env[key] = inside(value)
        elif word == "RUN":
            runs.append(shlex.split(rest))
        elif word == "CMD":
            command = json.loads(rest)
        else:
            assert word in ("USER", "EXPOSE", "HEALTHCHECK"), line
    pip = [r for r in runs if r[:2] == ["pip", "install"]]
    assert len(pip) == 1 and [r[0] for r in runs if r not in pip] == ["useradd"]
    installed = subprocess.run(
        [python, "-m", *[inside(a) for a in pip[0]]],
        cwd=workdir, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr[-3000:]
    assert command[:3] == ["python", "-m", "flywheel_ml.server.bundle_gateway"]
    args = [inside(a) for a in command[3:]]
    args[args.index("--host") + 1] = "127.0.0.1"
    args[args.index("--port") + 1] = str(port)
    return subprocess.Popen(
        [python, "-m", command[2], *args],
        cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


@pytest.mark.slow
def test_the_recipe_builds_without_docker_and_predicts(
    project: Path, cli: Cli, tmp_path: Path
) -> None:
    import flywheel_ml as fw

    context = tmp_path / "context"
    done = cli("--json", "export", "docker", "digits-lin@champion", "--out",
               str(context / "serve.Dockerfile"), cwd=project)  # fmt: skip
    assert done.returncode == 0, done.stderr
    export = json.loads(done.stdout)
    assert export["ref"] == "digits-lin@v1" and export["kernel"] is True
    lock = (context / "serve.requirements.txt").read_text().split()
    names = {line.split("==")[0] for line in lock}
    assert {"numpy", "starlette", "uvicorn", "orjson", "blake3"} <= names
    assert not names & {"scikit-learn", "pandas", "sqlalchemy", "typer"}  # kernel: numpy only
    ignore = (context / "serve.Dockerfile.dockerignore").read_text().split()
    assert ignore == ["*", "!serve.requirements.txt", "!serve-bundle"]
    port = free_port()
    server = _build_and_start(context, context / "serve.Dockerfile", tmp_path / "rootfs", port)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, server.stderr.read() if server.stderr else ""
            try:
                if httpx.get(f"{url}/readyz", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the gateway did not become ready"
            time.sleep(0.2)
        frozen = subprocess.run(
            [str(tmp_path / "rootfs" / "venv" / "bin" / "python"), "-m", "pip", "freeze"],
            capture_output=True, text=True, check=True,
        ).stdout.split()  # fmt: skip
        assert sorted(line.lower().replace("_", "-") for line in frozen) == sorted(lock)
        from sklearn.datasets import load_digits

        rows = load_digits().data[300:310]
        answer = httpx.post(
            f"{url}/v1/models/digits-lin/predict", json={"rows": rows.tolist()}, timeout=30
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["model_version"] == "digits-lin@v1"
        ws = fw.open_workspace(project)
        try:
            expected = ws.registry.load_model("digits-lin@v1").predict(rows)
        finally:
            ws.close()
        assert body["predictions"] == expected.tolist()
        assert httpx.post(f"{url}/v1/models/other/predict", json={"rows": []}).status_code == 404
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.slow
def test_a_model_without_kernel_locks_scikit_learn_and_resolves_on_pypi(
    project: Path, cli: Cli, tmp_path: Path
) -> None:
    out = tmp_path / "tree" / "Dockerfile"
    done = cli("export", "docker", "digits-tree", "--out", str(out), cwd=project)
    assert done.returncode == 0, done.stderr
    lock = (out.parent / "Dockerfile.requirements.txt").read_text().split()
    names = {line.split("==")[0] for line in lock}
    assert {"scikit-learn", "skops", "scipy", "numpy", "uvicorn"} <= names
    manifest = read_manifest(out.parent / "Dockerfile-bundle" / "model")
    assert manifest.kernel_digest is None and manifest.trusted == ("sklearn.tree._tree.Tree",)
    # Every pinned wheel exists for this Python and platform (pip resolves, installs nothing).
    report = tmp_path / "report.json"
    resolved = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--no-deps",
         "--only-binary=:all:", "--report", str(report), "-q", "-r",
         str(out.parent / "Dockerfile.requirements.txt")],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert resolved.returncode == 0, resolved.stderr[-3000:]
    planned = json.loads(report.read_text())["install"]
    pins = sorted(f"{p['metadata']['name'].lower()}=={p['metadata']['version']}" for p in planned)
    assert sorted(pin.replace("_", "-") for pin in pins) == sorted(lock)
    # The bundle serves the tree with scikit-learn, trusting only the registered types.
    predictor = BundleResolver(out.parent / "Dockerfile-bundle" / "model").resolve(manifest.ref)
    assert predictor.predict(np.zeros((1, 64))).shape == (1,)


def test_a_changed_byte_in_the_bundle_is_refused(project: Path, cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "serve.Dockerfile"
    assert cli("export", "docker", "digits-lin@v1", "--out", str(out), cwd=project).returncode == 0
    bundle = tmp_path / "serve-bundle" / "model"
    resolver = BundleResolver(bundle)
    with pytest.raises(NotFoundError):
        resolver.resolve("digits-lin@v2")
    now = datetime.now(UTC)
    deployments = BundleDeployments(resolver.manifest, at=now)
    assert [d.champion for d in deployments.list_deployments()] == ["digits-lin@v1"]
    with pytest.raises(ConflictError):
        deployments.apply_move("digits-lin", lambda s: s, kind="rollback", actor="x", at=now)
    kernel = bundle / "kernel.npz"
    data = bytearray(kernel.read_bytes())
    data[-1] ^= 1
    kernel.write_bytes(bytes(data))
    with pytest.raises(ConflictError, match="was changed"):
        BundleResolver(bundle).resolve("digits-lin@v1")


def test_bad_exports_write_nothing(project: Path, cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "serve.Dockerfile"
    missing = cli("export", "docker", "no-such-model@v1", "--out", str(out), cwd=project)
    assert missing.returncode == 2 and "no model named" in missing.stderr
    assert list(tmp_path.iterdir()) == []
    assert cli("export", "docker", "digits-lin", "--out", str(out), cwd=project).returncode == 0
    before = out.read_text()
    again = cli("export", "docker", "digits-tree", "--out", str(out), cwd=project)
    assert again.returncode == 2 and "--force" in again.stderr
    assert out.read_text() == before
    forced = cli("export", "docker", "digits-tree", "--out", str(out), "--force", cwd=project)
    assert forced.returncode == 0, forced.stderr
    assert "digits-tree@v1" in out.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "serve-bundle", "serve.Dockerfile", "serve.Dockerfile.dockerignore",
        "serve.requirements.txt",
    ]  # fmt: skip
