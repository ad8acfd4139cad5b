"""Only safe model formats are registered: pickles and untrusted skops types are refused."""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin

from flywheel_ml.errors import UnsafeModelError
from tests.registry.conftest import Project


class _Exploit:
    """Unpickling this runs a shell command that creates a file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (os.system, (f"touch {self.marker}",))


class MajorityClassifier(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """A custom estimator: its type is not in skops' default trusted set."""

    def fit(self, X: Any, y: Any) -> MajorityClassifier:
        values, counts = np.unique(y, return_counts=True)
        self.classes_ = values
        self.majority_ = values[np.argmax(counts)]
        self.n_features_in_ = np.asarray(X).shape[1]
        return self

    def predict(self, X: Any) -> Any:
        return np.full(len(X), self.majority_)


def _run_with_model_bytes(ws: Any, data: bytes) -> str:
    with ws.track.start_run(name="sneaky", datasets=["digits"]) as run:
        run.log_bytes("model", data, kind="model", meta={"format": "skops"})
        return str(run.id)


def test_a_malicious_pickle_is_refused_and_never_unpickled(
    project: Project, tmp_path: Path
) -> None:
    ws = project.ws
    marker = tmp_path / "pwned"
    payload = pickle.dumps(_Exploit(marker))
    run_id = _run_with_model_bytes(ws, payload)
    with pytest.raises(UnsafeModelError, match="refusing to load a pickle"):
        ws.registry.register(run_id, name="digits-clf")
    assert not marker.exists()
    assert ws.registry.list_versions(include_deleted=True) == []
    assert not [e for e in ws.events.recent(limit=50) if e.stage == "registry"]


def test_a_skops_file_with_an_untrusted_type_is_refused(project: Project) -> None:
    import skops.io

    ws = project.ws
    frame = ws.data.load("digits@latest", split="train")
    model = MajorityClassifier().fit(
        frame[[f"px{i}" for i in range(64)]].to_numpy(), frame["label"]
    )
    run_id = _run_with_model_bytes(ws, skops.io.dumps(model))
    with pytest.raises(UnsafeModelError, match="MajorityClassifier") as caught:
        ws.registry.register(run_id, name="digits-clf")
    assert "--trust" in caught.value.hint
    assert ws.registry.list_versions(include_deleted=True) == []

    trusted = f"{MajorityClassifier.__module__}.MajorityClassifier"
    version = ws.registry.register(run_id, name="digits-clf", trusted=[trusted])
    assert version.trusted == (trusted,)
    loaded = ws.registry.load_model(version.ref)
    assert isinstance(loaded, MajorityClassifier)


def test_bytes_that_are_no_model_file_are_refused(project: Project) -> None:
    run_id = _run_with_model_bytes(project.ws, b"just some text, not a model")
    with pytest.raises(UnsafeModelError, match="not a skops file"):
        project.ws.registry.register(run_id, name="digits-clf")
    assert project.ws.registry.list_versions() == []


def test_a_logged_model_registers_with_lineage_and_loads(project: Project) -> None:
    ws = project.ws
    version = ws.registry.register(project.good_run, name="digits-clf", description="lr")
    run = ws.track.get_run(project.good_run)
    assert version.ref == "digits-clf@v1"
    assert version.run_id == run.id
    assert version.dataset == "digits@v1"
    assert version.git_commit == run.lineage.git_commit
    assert version.artifact_format == "skops"
    assert version.feature_names == tuple(f"px{i}" for i in range(64))
    model = ws.registry.load_model("digits-clf@v1")
    assert model.predict(np.zeros((1, 64))).shape == (1,)
    assert ws.registry.register(project.weak_run, name="digits-clf").version == 2
    assert ws.registry.get_version("digits-clf").version == 2
