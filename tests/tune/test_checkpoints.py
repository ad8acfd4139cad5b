"""Checkpoints: run.checkpoint(state, step=...), load_checkpoint, and train --resume."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from flywheel_ml.errors import InvalidInputError, NotFoundError, UnsafeModelError
from flywheel_ml.tune import parse_config

SGD = "data: digits@v1\nmodel: sklearn.linear_model.SGDClassifier\nseed: 3\nepochs: {epochs}\n"


def test_checkpoint_round_trip_without_pickle(sqlite_workspace: Any) -> None:
    ws = sqlite_workspace
    with ws.track.start_run("ckpt") as run:
        run.checkpoint({"weights": np.arange(4.0), "epoch": 1}, step=1)
        run.checkpoint({"weights": np.arange(4.0) * 2, "epoch": 2}, step=2)
        with pytest.raises(InvalidInputError):
            run.checkpoint({"x": 1}, step=-1)
    state, step = ws.track.load_checkpoint(run.id)
    assert step == 2 and state["epoch"] == 2
    assert state["weights"].tolist() == [0.0, 2.0, 4.0, 6.0]
    older, step = ws.track.load_checkpoint(run.id, step=1)
    assert step == 1 and older["epoch"] == 1
    with pytest.raises(NotFoundError):
        ws.track.load_checkpoint(run.id, step=7)


def test_a_pickle_is_never_loaded_as_a_checkpoint(sqlite_workspace: Any) -> None:
    import pickle

    ws = sqlite_workspace
    with ws.track.start_run("evil") as run:
        run.log_bytes("checkpoints/step-00000000", pickle.dumps({"a": 1}), kind="checkpoint",
                      meta={"step": 0})  # fmt: skip
    with pytest.raises(UnsafeModelError):
        ws.track.load_checkpoint(run.id)


def test_train_resumes_from_the_newest_checkpoint(digits_ws: Any, tmp_path: Path) -> None:
    ws = digits_ws
    first = ws.tune.train(parse_config(SGD.format(epochs=3)), name="sgd")
    checkpoints = [a for a in ws.track.list_artifacts(first.id) if a.kind == "checkpoint"]
    assert len(checkpoints) == 3
    resumed = ws.tune.train(parse_config(SGD.format(epochs=6)), name="sgd", resume=first.id)
    assert resumed.tags["resumed_from"] == first.id and resumed.tags["resumed_at"] == "3"
    steps = sorted(
        int(str(a.meta["step"]))
        for a in ws.track.list_artifacts(resumed.id)
        if a.kind == "checkpoint"
    )
    assert steps == [3, 4, 5]
    assert "val_accuracy" in resumed.metrics
    with pytest.raises(InvalidInputError, match="epochs"):
        ws.tune.train(parse_config(SGD.replace("epochs: {epochs}\n", "")), resume=first.id)
