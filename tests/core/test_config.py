"""Settings: finding the workspace, the project file, environment overrides."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from flywheel_ml.config import find_root, load_settings, render_project_file
from flywheel_ml.errors import InvalidInputError, WorkspaceNotFoundError


def _workspace(root: Path, name: str = "P") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "flywheel.toml").write_text(render_project_file(name))
    return root


def test_walks_up_from_a_sub_folder(tmp_path: Path) -> None:
    root = _workspace(tmp_path / "ws")
    deep = root / "a" / "b"
    deep.mkdir(parents=True)
    assert find_root(deep) == root.resolve()


def test_environment_variable_names_the_workspace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _workspace(tmp_path / "ws")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FLYWHEEL_WORKSPACE", str(root))
    assert find_root() == root.resolve()
    monkeypatch.setenv("FLYWHEEL_WORKSPACE", str(tmp_path))
    with pytest.raises(WorkspaceNotFoundError):
        find_root()


def test_missing_workspace(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceNotFoundError) as info:
        find_root(tmp_path)
    assert "flywheel init" in info.value.hint


def test_a_folder_that_does_not_exist_is_not_searched_upwards(tmp_path: Path) -> None:
    """``-C ws/typo`` must not silently open the enclosing workspace."""
    root = _workspace(tmp_path / "ws")
    with pytest.raises(WorkspaceNotFoundError) as info:
        find_root(root / "typo")
    assert "typo" in info.value.message


@pytest.mark.parametrize("name", ['Say "hi"', "back\\slash", "Ünïcödé ✓", "a # not a comment"])
def test_project_file_round_trips_the_name(tmp_path: Path, name: str) -> None:
    text = render_project_file(name)
    assert tomllib.loads(text)["project"]["name"] == name
    assert load_settings(_workspace(tmp_path / "ws", name)).name == name


def test_defaults_and_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _workspace(tmp_path / "ws")
    settings = load_settings(root)
    assert settings.db_url == f"sqlite:///{root / '.flywheel' / 'flywheel.db'}"
    assert settings.blob_url == str(root / ".flywheel" / "objects")
    (root / "flywheel.toml").write_text(
        '[project]\nname = "P"\n[store]\nurl = "sqlite:////x.db"\nblobs = "memory://b"\n'
    )
    assert load_settings(root).db_url == "sqlite:////x.db"
    assert load_settings(root).blob_url == "memory://b"
    monkeypatch.setenv("FLYWHEEL_DB_URL", "sqlite:////y.db")
    monkeypatch.setenv("FLYWHEEL_BLOB_URL", "/objects")
    assert load_settings(root).db_url == "sqlite:////y.db"
    assert load_settings(root).blob_url == "/objects"


def test_invalid_project_file(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "flywheel.toml").write_text("[project\n")
    with pytest.raises(InvalidInputError):
        load_settings(root)
