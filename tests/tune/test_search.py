"""Coarse-to-fine search: every trial a run of its study, executors, resume, pruning."""

from __future__ import annotations

from typing import Any

import pytest

from flywheel_ml.errors import ConflictError, InvalidInputError
from flywheel_ml.tune import parse_config
from tests.tune.conftest import CONFIG, add_digits


def _study(ws: Any, name: str) -> Any:
    import optuna

    return optuna.load_study(study_name=name, storage=ws.tune.optuna_storage)


def _check_exact(ws: Any, name: str, n: int) -> None:
    from optuna.trial import TrialState

    trials = _study(ws, name).get_trials()
    assert len(trials) == n
    assert all(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials)
    run_ids = {t.user_attrs["run_id"] for t in trials}
    assert len(run_ids) == n  # one run per trial, none shared
    runs = ws.track.list_runs(f"tags.study = {name}")
    assert {r.id for r in runs} == run_ids
    assert all(r.status == "finished" for r in runs)
    stages = [t.user_attrs["stage"] for t in trials]
    assert stages.count("coarse") == ws.tune.get_study(name).coarse_trials


def test_search_in_process_runs_coarse_then_fine(digits_ws: Any) -> None:
    ws = digits_ws
    result = ws.tune.search(parse_config(CONFIG), study="tree", n_trials=8)
    assert result.completed == 8 and result.ran_now == 8
    _check_exact(ws, "tree", 8)
    info = ws.tune.get_study("tree")
    assert info.coarse_trials == 4
    fine = info.fine_space
    assert fine is not None
    # The fine stage's range lies inside the full range, and its trials inside the fine range.
    assert 1 <= fine["max_depth"]["low"] <= fine["max_depth"]["high"] <= 12
    for trial in _study(ws, "tree").get_trials():
        if trial.user_attrs["stage"] == "fine":
            assert (
                fine["max_depth"]["low"] <= trial.params["max_depth"] <= fine["max_depth"]["high"]
            )
    assert result.best_run_id in {r.id for r in ws.track.list_runs("tags.study = tree")}
    report = ws.tune.study_report("tree")
    assert report.summary["best"]["value"] == result.best_value
    assert set(report.summary["importance"]) <= {"max_depth", "min_samples_leaf", "criterion"}


def test_search_resumes_after_an_interruption(digits_ws: Any) -> None:
    from optuna.trial import TrialState

    ws = digits_ws
    config = parse_config(CONFIG)
    ws.tune.search(config, study="resume", n_trials=6, timeout=1e-6)  # stops at once
    study = _study(ws, "resume")
    study.ask()  # a trial left RUNNING, as by a killed worker
    result = ws.tune.search(config, study="resume", n_trials=6)
    assert result.completed == 6
    states = [t.state for t in _study(ws, "resume").get_trials()]
    assert states.count(TrialState.COMPLETE) == 6
    assert states.count(TrialState.FAIL) == 1  # the stale one, redone
    again = ws.tune.search(config, study="resume", n_trials=6)
    assert again.ran_now == 0


def test_search_refuses_bad_input_before_writing(digits_ws: Any) -> None:
    ws = digits_ws
    with pytest.raises(InvalidInputError, match="no search"):
        ws.tune.search(parse_config(CONFIG.split("search:")[0]), study="s", n_trials=2)
    with pytest.raises(InvalidInputError):
        ws.tune.search(parse_config(CONFIG), study="s", n_trials=0)
    assert ws.tune.list_studies() == []
    ws.tune.search(parse_config(CONFIG), study="s", n_trials=1)
    with pytest.raises(ConflictError, match="another config"):
        ws.tune.search(parse_config(CONFIG.replace("seed: 7", "seed: 8")), study="s", n_trials=1)


def test_incremental_learners_are_pruned(digits_ws: Any) -> None:
    from optuna.trial import TrialState

    ws = digits_ws
    config = parse_config(
        "data: digits@v1\nmodel: sklearn.linear_model.SGDClassifier\nseed: 3\nepochs: 6\n"
        "search:\n  alpha: {float: [1.0e-5, 50.0], log: true}\n"
    )
    result = ws.tune.search(config, study="sgd", n_trials=12, coarse_fraction=1.0)
    assert result.completed == 12
    trials = _study(ws, "sgd").get_trials()
    assert any(t.intermediate_values for t in trials)
    pruned = [t for t in trials if t.state == TrialState.PRUNED]
    assert pruned, "the median rule prunes the hopeless alphas"
    run = ws.track.get_run(pruned[0].user_attrs["run_id"])
    assert run.tags["pruned"].startswith("epoch")


@pytest.mark.parametrize("executor", ["processes", "dask"])
def test_parallel_search_writes_exactly_the_trials_asked_for(workspace: Any, executor: str) -> None:
    ws = workspace
    add_digits(ws, rows=300)
    config = parse_config(CONFIG)
    if executor == "processes":
        result = ws.tune.search(config, study="par", n_trials=6, jobs=2)
    else:
        result = ws.tune.search(config, study="par", n_trials=6, jobs=2, dask="local")
    assert result.completed == 6 and result.ran_now == 6
    _check_exact(ws, "par", 6)
