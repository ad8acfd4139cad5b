"""The CLI's fast path of ``data status`` and no-op ``data add`` answers exactly like the full path.

Each case runs the fast path in process (``answer`` must take it) and the real CLI with
``FLYWHEEL_NO_FAST_PATH=1`` (the full path through the workspace), and compares the output.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess
from typing import Any

import pytest

from flywheel_ml.backends.sql.sqlite_peek import sqlite_file
from flywheel_ml.cli.data_quick import answer
from flywheel_ml.data.filecache import CACHE_FILE

Cli = Callable[..., CompletedProcess[str]]
_HOUR_NS = 3600 * 10**9


def _age(folder: Path) -> None:
    """Move every file's mtime an hour back, out of the racy window of the stat signature."""
    for path in folder.rglob("*"):
        if path.is_file():
            st = path.stat()
            os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns - _HOUR_NS))


def _compare(args: list[str], ws: Any, cli: Cli, capsys: pytest.CaptureFixture[str],
             monkeypatch: pytest.MonkeyPatch) -> str:  # fmt: skip
    """Assert that the fast path answers ``args`` (JSON and text) as the full CLI does."""
    monkeypatch.chdir(ws.root)
    outputs = []
    for json_output in (True, False):
        capsys.readouterr()
        assert answer(list(args), json_output=json_output), f"fast path declined {args}"
        fast = capsys.readouterr().out
        full = cli(*(["--json"] if json_output else []), *args, cwd=ws.root,
                   env={"FLYWHEEL_NO_FAST_PATH": "1"})  # fmt: skip
        assert full.returncode == 0, full.stderr
        assert fast == full.stdout
        outputs.append(fast)
    return outputs[0]


@pytest.fixture
def pets(tmp_path: Path, pets_folder: Path) -> Path:
    """The pets folder with mtimes an hour old (files untouched since long before the add)."""
    _age(pets_folder)
    return pets_folder


def test_unchanged_folder_and_noop_add(
    workspace: Any, pets: Path, cli: Cli, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    version = workspace.data.add(pets, name="pets", label_from_folder=True)
    assert (workspace.root / ".flywheel" / CACHE_FILE).is_file()  # where the fast path looks
    args = ["data", "status", "pets"]
    if sqlite_file(os.environ.get("FLYWHEEL_DB_URL", "sqlite:///x")) is None:
        # PostgreSQL: always the full path, which the CLI then runs.
        monkeypatch.chdir(workspace.root)
        assert not answer(args, json_output=True)
        assert not answer(["data", "add", str(pets), "--name", "pets"], json_output=True)
        assert cli("data", "status", "pets", cwd=workspace.root).returncode == 0
        return
    assert '"unchanged": true' in _compare(args, workspace, cli, capsys, monkeypatch)
    _compare([*args, str(pets)], workspace, cli, capsys, monkeypatch)
    noop = ["data", "add", str(pets), "--name", "pets", "-m", "again"]
    assert version.ref in _compare(noop, workspace, cli, capsys, monkeypatch)
    assert [v.ref for v in workspace.data.list_versions("pets")] == [version.ref]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_changes_found_as_by_the_full_path(
    workspace: Any, pets: Path, cli: Cli, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    workspace.data.add(pets, name="pets", label_from_folder=True)
    victim = pets / "cat" / "000.txt"
    same_size = bytes(b ^ 1 for b in victim.read_bytes())
    st = victim.stat()
    victim.write_bytes(same_size)
    os.utime(victim, ns=(st.st_atime_ns, st.st_mtime_ns + 2 * 10**9))  # mtime moved, size kept
    (pets / "dog" / "004.txt").unlink()
    (pets / "bird" / "new.txt").write_bytes(b"a new bird\n")
    shutil.move(pets / "cat" / "006.txt", pets / "dog" / "006.txt")  # relabelled by folder
    _age(pets / "bird")
    found = _compare(["data", "status", "pets"], workspace, cli, capsys, monkeypatch)
    assert '"cat/000.txt"' in found and '"dog/004.txt"' in found and '"bird/new.txt"' in found
    assert '"dog/006.txt"' in found and '"cat/006.txt"' in found
    # Something changed: the fast path runs the add itself (tests/data/test_fast_add.py
    # compares it with the full path), and records every change.
    monkeypatch.chdir(workspace.root)
    capsys.readouterr()
    assert answer(["data", "add", str(pets), "--name", "pets"], json_output=False)
    assert capsys.readouterr().out.startswith("Added pets@v2 (")
    version = workspace.data.get_version("pets@latest")
    assert version.ref == "pets@v2" and version.items == 30
    again = _compare(["data", "status", "pets"], workspace, cli, capsys, monkeypatch)
    assert '"unchanged": true' in again and "pets@v2" in again


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_same_size_change_in_the_racy_window_is_found(
    workspace: Any, pets: Path, cli: Cli, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    # A file whose mtime is not clearly older than the moment it was hashed may change again
    # without its mtime moving (the racy case): a rewrite with the same size and the very same
    # mtime must still be found by hashing. A future mtime puts the file in that window.
    victim = pets / "dog" / "001.txt"
    st = victim.stat()
    future = time.time_ns() + _HOUR_NS
    os.utime(victim, ns=(st.st_atime_ns, future))
    workspace.data.add(pets, name="pets", label_from_folder=True)
    victim.write_bytes(bytes(b ^ 1 for b in victim.read_bytes()))
    os.utime(victim, ns=(st.st_atime_ns, future))
    found = _compare(["data", "status", "pets"], workspace, cli, capsys, monkeypatch)
    assert '"modified": [\n    "dog/001.txt"\n  ]' in found


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_declines_what_it_cannot_answer_exactly(
    workspace: Any, pets: Path, reviews_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace.data.add(pets, name="pets", label_from_folder=True)
    workspace.data.add(reviews_csv, name="reviews", label="sentiment")
    monkeypatch.chdir(workspace.root)
    for args in (
        ["data", "status", "nosuch"],
        ["data", "status", "reviews"],  # a table dataset: the full path explains the error
        ["data", "status", "pets", str(pets / "missing")],
        ["data", "status", "pets", "--help"],
        ["data", "add", str(pets), "--name", "pets", "--label", "x"],
        ["data", "add", str(reviews_csv), "--name", "reviews"],
        ["data", "add", str(pets), "--name", "reviews"],  # a table dataset's name
        ["data", "add", str(pets), "--as-test-set", "pets"],  # another role
        ["data", "list"],
    ):
        assert not answer(args, json_output=True), args
    monkeypatch.setenv("FLYWHEEL_NO_FAST_PATH", "1")
    assert not answer(["data", "status", "pets"], json_output=True)
