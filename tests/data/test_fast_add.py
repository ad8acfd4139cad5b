"""A folder ``data add`` with changes, through the CLI's fast path (stdlib ``sqlite3`` stores).

Two workspaces get the same folder and the same changes: one through the fast path, the other
with ``FLYWHEEL_NO_FAST_PATH=1`` (Typer, SQLAlchemy). Output, version digests, numbers and items
must be the same, and the versions must read back through the full commands.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from subprocess import CompletedProcess
from typing import Any

import pytest

import flywheel_ml as fw
from flywheel_ml.cli import data_quick
from tests.conftest import FLYWHEEL

Cli = Callable[..., CompletedProcess[str]]
FULL = {"FLYWHEEL_NO_FAST_PATH": "1"}
# Python lists every module it imports on stderr: proof of which path ran.
IMPORTS = {"PYTHONPROFILEIMPORTTIME": "1"}
_HOUR_NS = 3600 * 10**9
CONFLICT = "got a new version while this one was prepared"


def _age(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            st = path.stat()
            os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns - _HOUR_NS))


def _imported(stderr: str) -> set[str]:
    """Top-level packages in the ``-X importtime`` lines of ``stderr``."""
    return {
        line.rsplit("|", 1)[1].strip().split(".")[0]
        for line in stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }


def _errors(stderr: str) -> str:
    lines = stderr.splitlines(keepends=True)
    return "".join(line for line in lines if not line.startswith("import time:"))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "pics"
    for i in range(90):
        label = ("cat", "dog", "bird")[i % 3]
        (root / label).mkdir(parents=True, exist_ok=True)
        (root / label / f"{i:03d}.bin").write_bytes(f"{label} {i}\n".encode() * (i + 1))
    _age(root)
    return root


@contextmanager
def _workspaces(tmp_path: Path, folder: Path) -> Iterator[tuple[Path, Path]]:
    """Two workspaces with version 1 of dataset ``pics`` from ``folder``: (fast, full)."""
    roots = []
    for name in ("fast", "full"):
        with fw.init_workspace(tmp_path / name) as ws:
            ws.data.add(folder, name="pics", label_from_folder=True)
        roots.append(tmp_path / name)
    yield roots[0], roots[1]


def _change(folder: Path, round_: int) -> None:
    """Rewrite two files, add one, remove one (the same on every call with the same round)."""
    (folder / "cat" / "000.bin").write_bytes(f"cat changed in round {round_}\n".encode())
    (folder / "dog" / "001.bin").write_bytes(f"dog changed in round {round_}\n".encode())
    (folder / "bird" / f"new-{round_}.bin").write_bytes(f"new bird {round_}\n".encode())
    (folder / "bird" / f"{3 * round_ + 2:03d}.bin").unlink()


def _add(cli: Cli, root: Path, folder: Path, *flags: str, env: dict[str, str]) -> Any:
    done = cli(*flags, "data", "add", str(folder), "--name", "pics", "-m", "more", cwd=root,
               env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done


def test_fast_add_answers_as_the_full_add(cli: Cli, tmp_path: Path, folder: Path) -> None:
    with _workspaces(tmp_path, folder) as (fast, full):
        _change(folder, 1)
        first = _add(cli, fast, folder, "--json", env=IMPORTS)
        assert not _imported(first.stderr) & {"sqlalchemy", "typer", "rich", "click"}
        expected = _add(cli, full, folder, "--json", env=FULL)
        got, want = json.loads(first.stdout), json.loads(expected.stdout)
        assert got.pop("created_at") != want.pop("created_at")
        assert got == want
        assert (got["number"], got["items"], got["unchanged"]) == (2, 90, False)
        _change(folder, 2)
        second = _add(cli, fast, folder, env=IMPORTS)
        assert "sqlalchemy" not in _imported(second.stderr)
        assert second.stdout == _add(cli, full, folder, env=FULL).stdout
        assert second.stdout.startswith("Added pics@v3 (") and second.stdout.endswith(" items.\n")
        # Unchanged since: the same answer on both sides, and nothing written.
        noop = _add(cli, fast, folder, env=IMPORTS)
        assert "sqlalchemy" not in _imported(noop.stderr)
        assert noop.stdout == _add(cli, full, folder, env=FULL).stdout
        assert noop.stdout == "pics@v3 unchanged (90 items).\n"
        got = json.loads(_add(cli, fast, folder, "--json", env={}).stdout)
        want = json.loads(_add(cli, full, folder, "--json", env=FULL).stdout)
        got.pop("created_at"), want.pop("created_at")  # the times of the two v3 adds
        assert got == want and got["unchanged"] is True
        _read_back(cli, fast, full)


def _read_back(cli: Cli, fast: Path, full: Path) -> None:
    """The fast workspace's versions read back through the full commands, as the full one's."""
    assert cli("verify", cwd=fast).returncode == 0
    listed = [
        json.loads(cli("--json", "data", "versions", "pics", cwd=r).stdout) for r in (fast, full)
    ]
    keys = [[(v["ref"], v["digest"], v["parent"], v["items"], v["size"]) for v in found]
            for found in listed]  # fmt: skip
    assert keys[0] == keys[1] and [k[0] for k in keys[0]] == ["pics@v1", "pics@v2", "pics@v3"]
    shown = [cli("--json", "data", "show", "pics@v2", cwd=r) for r in (fast, full)]
    assert all(s.returncode == 0 for s in shown), shown[0].stderr
    facts = [json.loads(s.stdout) for s in shown]
    assert facts[0]["digest"] == facts[1]["digest"]
    assert facts[0].get("splits") == facts[1].get("splits")
    status = cli("--json", "data", "status", "pics", cwd=fast, env=FULL)
    assert json.loads(status.stdout)["unchanged"] is True
    with fw.open_workspace(fast) as ws:
        events = [e.subject for e in ws.events.recent(stage="data") if e.kind == "version.created"]
        assert events[:2] == ["pics@v3", "pics@v2"]


def test_errors_of_a_started_add_are_the_full_commands(cli: Cli, tmp_path: Path,
                                                      folder: Path) -> None:  # fmt: skip
    with _workspaces(tmp_path, folder) as (fast, full):
        # Two files with the same bytes: found only after their objects are stored.
        (folder / "cat" / "copy.bin").write_bytes((folder / "dog" / "001.bin").read_bytes())
        for flags in ([], ["--json"]):
            got = cli(*flags, "data", "add", str(folder), "--name", "pics", cwd=fast, env=IMPORTS)
            want = cli(*flags, "data", "add", str(folder), "--name", "pics", cwd=full, env=FULL)
            assert "typer" not in _imported(got.stderr)  # the fast path reported it
            assert (got.returncode, got.stdout, _errors(got.stderr)) == (
                want.returncode, want.stdout, want.stderr,
            )  # fmt: skip
            assert got.returncode == 2 and "identical bytes" in want.stderr
        with fw.open_workspace(fast) as ws:
            assert [v.ref for v in ws.data.list_versions("pics")] == ["pics@v1"]


def test_concurrent_fast_adds_serialise_or_conflict(tmp_path: Path, folder: Path) -> None:
    with _workspaces(tmp_path, folder) as (fast, _full):
        for round_ in (1, 2, 3):
            _change(folder, round_)
            env = {**os.environ, **IMPORTS}
            children = [
                subprocess.Popen(
                    [FLYWHEEL, "--json", "data", "add", str(folder), "--name", "pics"],
                    cwd=fast,
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
                for _ in range(2)
            ]
            outcomes = []
            for child in children:
                out, err = child.communicate(timeout=120)
                assert "sqlalchemy" not in _imported(err)
                assert "locked" not in _errors(err).lower(), err
                answer = json.loads(out)
                if child.returncode == 2:
                    assert answer["error"] == "conflict" and CONFLICT in answer["message"]
                    outcomes.append("conflict")
                else:
                    assert child.returncode == 0, err
                    outcomes.append("unchanged" if answer["unchanged"] else answer["ref"])
            # One adds the version; the other conflicts, or finds the content already there.
            assert sorted(outcomes, key=lambda o: o.startswith("pics@")) in (
                ["conflict", f"pics@v{round_ + 1}"], ["unchanged", f"pics@v{round_ + 1}"],
            ), outcomes  # fmt: skip
        with fw.open_workspace(fast) as ws:
            versions = ws.data.list_versions("pics")
            assert [v.number for v in versions] == [1, 2, 3, 4]
            assert [v.parent for v in versions[1:]] == [v.digest for v in versions[:-1]]
            assert ws.verify().ok
            assert ws.data.status("pics").unchanged


def test_the_bar_starts_only_when_the_add_reports_progress(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from flywheel_ml.cli import context

    started: list[str] = []

    @contextmanager
    def fake_progress(description: str, **_: Any) -> Iterator[Callable[[int], None]]:
        started.append(description)
        yield lambda _completed: None

    monkeypatch.setattr(context, "progress", fake_progress)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    with data_quick._progress_when_slow(True) as advance:
        assert advance is None  # --json: never a bar
    with data_quick._progress_when_slow(False) as advance:
        assert advance is not None and not started  # a small add ends before any report
        advance(1000)
        advance(2000)
    assert started == ["adding files"]


def test_first_add_of_a_folder_dataset_takes_the_fast_path(
    cli: Cli, tmp_path: Path, folder: Path
) -> None:
    roots = {}
    for side in ("fast", "full"):
        fw.init_workspace(tmp_path / side).close()
        roots[side] = tmp_path / side
    args = ("--json", "data", "add", str(folder), "--name", "pics", "--label-from-folder")
    first = cli(*args, cwd=roots["fast"], env=IMPORTS)
    assert first.returncode == 0, first.stderr
    assert not _imported(first.stderr) & {"sqlalchemy", "typer", "rich", "click"}
    want = cli(*args, cwd=roots["full"], env=FULL)
    got, expected = json.loads(first.stdout), json.loads(want.stdout)
    got.pop("created_at"), expected.pop("created_at")
    assert got == expected and (got["ref"], got["items"]) == ("pics@v1", 90)
    with fw.open_workspace(roots["fast"]) as ws:
        assert ws.data.split_policy().seed == 13  # the default policy was set, as in full
        assert ws.data.get_dataset("pics").label == "label"
        assert ws.verify().ok
    # A name a table dataset holds: the fast path steps aside and the full command reports.
    table = tmp_path / "rows.csv"
    table.write_text("x,y\n1,a\n2,b\n")
    assert cli("data", "add", str(table), "--name", "rows", cwd=roots["fast"]).returncode == 0
    clash = cli("data", "add", str(folder), "--name", "rows", cwd=roots["fast"], env=IMPORTS)
    assert clash.returncode == 2 and "holds table items" in clash.stderr
    assert "typer" in _imported(clash.stderr)


def test_progress_is_reported_for_many_files_only(tmp_path: Path) -> None:
    reports: list[int] = []
    with fw.init_workspace(tmp_path / "ws") as ws:
        few = tmp_path / "few"
        few.mkdir()
        for i in range(20):
            (few / f"{i}.txt").write_text(str(i))
        ws.data.add(few, name="few", progress=reports.append)
        assert reports == []
        many = tmp_path / "many"
        many.mkdir()
        for i in range(2500):
            (many / f"{i:05d}.txt").write_text(str(i))
        ws.data.add(many, name="many", progress=reports.append)
        assert reports and reports == sorted(reports) and reports[-1] == 2499


def test_export_of_a_folder_dataset_takes_the_fast_path(
    cli: Cli, tmp_path: Path, folder: Path
) -> None:
    with _workspaces(tmp_path, folder) as (fast, full):
        outs = {}
        for side, root, env in (("fast", fast, IMPORTS), ("full", full, FULL)):
            for flags in ([], ["--json"]):
                target = tmp_path / f"{side}-out{len(flags)}"
                done = cli(*flags, "data", "export", "pics@latest", "--to", str(target),
                           "--purpose", "a copy for a peer tool", cwd=root, env=env)  # fmt: skip
                assert done.returncode == 0, done.stderr
                if side == "fast":
                    assert not _imported(done.stderr) & {"sqlalchemy", "typer", "rich"}
                outs[side, len(flags)] = done.stdout.replace(f"{side}-out", "OUT")
            outs[side, "files"] = sorted(
                (p.relative_to(target).as_posix(), p.read_bytes())
                for p in target.rglob("*") if p.is_file()
            )  # fmt: skip
        assert outs["fast", 0] == outs["full", 0]
        assert outs["fast", 0].startswith("Wrote 90 file(s) to ")
        assert outs["fast", 1] == outs["full", 1]
        assert outs["fast", "files"] == outs["full", "files"] and len(outs["fast", "files"]) == 90
        audits = []
        for root in (fast, full):
            with fw.open_workspace(root) as ws:
                audits.append([(r.purpose, r.rows) for r in ws.data.audit()])
        assert audits[0] == audits[1] and len(audits[0]) == 2
        # Into a folder that holds a file already: the same refusal from both paths.
        clash = [cli("data", "export", "pics@v1", "--to", str(tmp_path / "fast-out0"),
                     "--purpose", "again", cwd=root, env=env)
                 for root, env in ((fast, IMPORTS), (full, FULL))]  # fmt: skip
        assert "typer" not in _imported(clash[0].stderr)
        assert clash[0].returncode == clash[1].returncode == 2
        assert _errors(clash[0].stderr) == clash[1].stderr.replace("full-out0", "fast-out0")
        # What the fast path does not do goes to the full command, which reports it.
        table = tmp_path / "rows.csv"
        table.write_text("x,y\n1,a\n2,b\n")
        assert cli("data", "add", str(table), "--name", "rows", cwd=fast).returncode == 0
        for args in (["rows@v1", "--to", str(tmp_path / "t")],
                     ["nosuch@v1", "--to", str(tmp_path / "n")],
                     ["pics@v1", "--to", str(tmp_path / "f"), "--format", "xml"]):  # fmt: skip
            done = cli("data", "export", *args, cwd=fast, env=IMPORTS)
            assert "typer" in _imported(done.stderr), args
