"""A small digits project: page, data, two finished runs with logged models."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest


@dataclass(frozen=True, slots=True)
class Project:
    """A workspace with digits data and two runs: a good model and a weak one."""

    ws: Any
    good_run: str
    weak_run: str


def digits_frame(rows: int | None = None) -> Any:
    """The digits table: ``px0..px63``, ``label`` and an ``item`` id column."""
    import pandas as pd
    from sklearn.datasets import load_digits

    digits = load_digits()
    frame = pd.DataFrame(digits.data, columns=[f"px{i}" for i in range(64)])
    frame["label"] = digits.target
    frame["item"] = [f"d{i:04d}" for i in range(len(frame))]
    return frame if rows is None else frame.head(rows)


def train_run(ws: Any, *, name: str, C: float, max_iter: int = 200) -> str:  # noqa: N803
    """Train a LogisticRegression on the train split in a run that logs its model."""
    from sklearn.linear_model import LogisticRegression

    train = ws.data.load("digits@latest", split="train")
    features = [f"px{i}" for i in range(64)]
    with ws.track.start_run(name=name, params={"C": C}, datasets=["digits"]) as run:
        model = LogisticRegression(C=C, max_iter=max_iter)
        model.fit(train[features].to_numpy(), train["label"].to_numpy())
        run.log_model(model)
        run_id = str(run.id)
    return run_id


def make_project(ws: Any, *, rows: int = 600) -> Project:
    """Fill ``ws`` with the digits project."""
    ws.plan.set(
        problem="digits",
        objective="accuracy max",
        add_constraints=["latency_p95_ms < 1000", "model_mb < 50", "coverage >= 0.5"],
    )
    ws.data.add(digits_frame(rows), name="digits", label="label", id="item", message="digits")
    good = train_run(ws, name="good", C=1.0)
    weak = train_run(ws, name="weak", C=0.0001, max_iter=20)
    return Project(ws=ws, good_run=good, weak_run=weak)


@pytest.fixture
def project(sqlite_workspace: Any) -> Project:
    """The digits project on SQLite."""
    return make_project(sqlite_workspace)
