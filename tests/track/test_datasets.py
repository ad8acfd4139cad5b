"""Dataset use is resolved through the data stage of the workspace."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from flywheel_ml.errors import NotFoundError


def test_use_dataset_records_the_resolved_version(sqlite_workspace: Any) -> None:
    ws = sqlite_workspace
    frame = pd.DataFrame({"x": [1, 2, 3, 4], "y": [0, 1, 0, 1]})
    ws.data.add(frame, name="toy", label="y")
    with ws.track.start_run("uses") as run:
        assert run.use_dataset("toy") == "toy@v1"
        with pytest.raises(NotFoundError):
            run.use_dataset("toy@v9")
    assert ws.track.get_run(run.id).datasets == ("toy@v1",)
    assert [r.id for r in ws.track.list_runs("dataset = toy@v1")] == [run.id]


def test_loading_data_inside_a_run_records_the_version(sqlite_workspace: Any) -> None:
    ws = sqlite_workspace
    frame = pd.DataFrame({"x": [1, 2, 3, 4], "y": [0, 1, 0, 1]})
    ws.data.add(frame, name="toy", label="y")
    ws.data.add(pd.concat([frame, frame.assign(x=frame.x + 10)]), name="toy", label="y")
    ws.data.load("toy@v1")  # no run open: nothing to record
    with ws.track.start_run("loads") as run:
        ws.data.load("toy@v1", split="train")
        ws.data.load("toy@latest")
        ws.data.load("toy@v1")  # recorded once
    assert sorted(ws.track.get_run(run.id).datasets) == ["toy@v1", "toy@v2"]
