"""A small labelled table dataset (300 digits) in a fresh workspace, and a model for queues."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest


def digits_frame(rows: int = 300) -> pd.DataFrame:
    """The first ``rows`` scikit-learn digits: columns digit_id, px0..px63, label."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    frame = pd.DataFrame(digits.data[:rows], columns=[f"px{i}" for i in range(64)])
    frame.insert(0, "digit_id", [f"d{i:04d}" for i in range(rows)])
    frame["label"] = digits.target[:rows]
    return frame


class FittedModel:
    """A logistic regression on the pixels, shaped like a registry predictor."""

    def __init__(self, frame: pd.DataFrame) -> None:
        from sklearn.linear_model import LogisticRegression

        self.feature_names: Sequence[str] = [f"px{i}" for i in range(64)]
        self._model = LogisticRegression(max_iter=200).fit(
            frame[list(self.feature_names)].to_numpy(), frame["label"].to_numpy()
        )
        self.classes: Sequence[Any] = list(self._model.classes_)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self._model.predict_proba(X))


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Any]:
    """A workspace with dataset ``digits`` v1 (300 rows) and a model ``clf@v1`` wired in."""
    import flywheel_ml as fw

    workspace = fw.init_workspace(tmp_path / "ws", name="label tests")
    frame = digits_frame()
    workspace.data.add(frame, name="digits", label="label", id="digit_id", message="v1")
    model = FittedModel(frame)

    def load(ref: str) -> Any:
        from flywheel_ml.errors import NotFoundError

        if ref != "clf@v1":
            raise NotFoundError(f"no model {ref}", hint="")
        return model

    workspace.label._load_model = load
    try:
        yield workspace
    finally:
        workspace.close()


def split_ids(ws: Any, *, split: str | None = "train", count: int = 10) -> list[str]:
    """Item ids of one split (labels never read)."""
    frame = ws.data.load("digits@latest", with_split=True)
    if split is not None:
        frame = frame[frame["__split__"] == split]
    return [str(i) for i in frame["digit_id"].tolist()[:count]]
