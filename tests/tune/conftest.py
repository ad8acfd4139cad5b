"""Fixtures of the tune tests: a small digits table in a workspace, and config text."""

from __future__ import annotations

from typing import Any

import pytest

CONFIG = """\
data: digits@latest
label: label
model: sklearn.tree.DecisionTreeClassifier
params: {max_depth: 8}
seed: 7
search:
  max_depth: {int: [1, 12]}
  min_samples_leaf: {int: [1, 20], log: true}
  criterion: {choice: [gini, entropy]}
"""


def add_digits(ws: Any, rows: int = 500) -> str:
    """Add the first ``rows`` digits as dataset ``digits``; returns its reference."""
    from sklearn.datasets import load_digits

    frame = load_digits(as_frame=True).frame.iloc[:rows]
    frame.columns = [f"px{i}" for i in range(64)] + ["label"]
    frame.insert(0, "digit_id", [f"d{i:04d}" for i in range(len(frame))])
    return str(ws.data.add(frame, name="digits", label="label", id="digit_id").ref)


@pytest.fixture
def digits_ws(sqlite_workspace: Any) -> Any:
    """An embedded workspace holding ``digits@v1`` (500 rows)."""
    add_digits(sqlite_workspace)
    return sqlite_workspace
