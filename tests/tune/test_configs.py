"""Config files: validated with pydantic; errors name the key and its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from flywheel_ml.errors import InvalidInputError, NotFoundError
from flywheel_ml.tune import EXAMPLE_CONFIG, load_config, parse_config
from tests.tune.conftest import CONFIG


def test_a_good_config_parses_with_its_search_space() -> None:
    config = parse_config(CONFIG)
    assert config.data == "digits@latest"
    assert config.params == {"max_depth": 8}
    space = config.search_space()
    assert space["max_depth"] == {"kind": "int", "low": 1, "high": 12, "log": False}
    assert space["min_samples_leaf"]["log"] is True
    assert space["criterion"] == {"kind": "choice", "choices": ["gini", "entropy"]}
    estimator = config.build()
    assert estimator.get_params()["max_depth"] == 8
    assert estimator.get_params()["random_state"] == 7  # the seed


def test_the_example_config_is_valid() -> None:
    assert parse_config(EXAMPLE_CONFIG).model == "sklearn.ensemble.RandomForestClassifier"


def test_unknown_key_is_named_with_its_line() -> None:
    text = CONFIG.replace("seed: 7\n", "seed: 7\nlearning_rat: 0.1\n")
    with pytest.raises(InvalidInputError, match=r"line 6: learning_rat: unknown key"):
        parse_config(text)


def test_bad_search_dimension_is_named_with_its_line() -> None:
    text = CONFIG.replace("{int: [1, 12]}", "{int: [12, 1]}")
    with pytest.raises(InvalidInputError, match=r"line 7: search\.max_depth: .*low < high"):
        parse_config(text)
    text = CONFIG.replace("{choice: [gini, entropy]}", "{choise: [gini]}")
    with pytest.raises(InvalidInputError, match=r"line 9: search\.criterion\.choise: unknown"):
        parse_config(text)


def test_wrong_types_and_missing_keys() -> None:
    with pytest.raises(InvalidInputError, match=r"line 5: seed: "):
        parse_config(CONFIG.replace("seed: 7", "seed: seven"))
    with pytest.raises(InvalidInputError, match=r"model: required key is missing"):
        parse_config("data: digits@v1\n")
    with pytest.raises(InvalidInputError, match="line 2: not valid YAML"):
        parse_config("data: [a\nmodel: x\n")
    with pytest.raises(InvalidInputError, match="mapping of keys"):
        parse_config("- a\n- b\n")


def test_model_must_import_and_take_the_params() -> None:
    with pytest.raises(InvalidInputError, match="cannot be imported"):
        parse_config(CONFIG.replace("sklearn.tree.", "sklearn.trees.")).build()
    with pytest.raises(InvalidInputError, match="no parameter"):
        parse_config(CONFIG.replace("max_depth: 8", "max_dpth: 8")).build()
    with pytest.raises(InvalidInputError, match="import path"):
        parse_config(CONFIG.replace("sklearn.tree.DecisionTreeClassifier", "Tree"))


def test_load_config_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(CONFIG)
    assert load_config(path).seed == 7
    with pytest.raises(NotFoundError):
        load_config(tmp_path / "missing.yaml")
