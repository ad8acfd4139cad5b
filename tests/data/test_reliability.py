"""Reliability: verify finds altered objects, unsafe paths are refused, a full disk or kill -9
during ``data add`` leaves no version behind, and the next add succeeds."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import flywheel_ml as fw
from flywheel_ml.backends.packs import PackedObjectStore
from flywheel_ml.data.readers import check_relpath
from flywheel_ml.errors import InvalidInputError, StorageFullError
from tests.conftest import FLYWHEEL
from tests.data.conftest import reviews_frame


def _flip_byte(path: Path, offset: int) -> None:
    with path.open("r+b") as handle:
        handle.seek(offset)
        byte = handle.read(1)
        handle.seek(offset)
        handle.write(bytes([byte[0] ^ 0xFF]))


def test_verify_finds_every_altered_object(workspace: Any, pets_folder: Path) -> None:
    data = workspace.data
    data.add(pets_folder, name="pets", label_from_folder=True)
    data.add(reviews_frame(50), name="r", label="sentiment")
    assert workspace.verify().ok
    packed: PackedObjectStore = workspace.packed_objects
    locations = packed._index.all_locations()
    assert len(locations) == 30
    altered = set()
    for digest, pack, offset, length in locations[::3]:
        _flip_byte(workspace.objects.root / "packs" / f"{pack}.pack", offset + length // 2)
        altered.add(digest)
    loose = list(workspace.objects.iter_digests())
    for digest in loose[:2]:
        _flip_byte(workspace.objects.path_of(digest), 0)
        altered.add(digest)
    report = workspace.verify()
    assert set(report.corrupt) == altered
    assert report.checked == len(loose) + len(locations)


def test_verify_reports_a_deleted_pack(sqlite_workspace: Any, pets_folder: Path) -> None:
    sqlite_workspace.data.add(pets_folder, name="pets")
    for pack in (sqlite_workspace.objects.root / "packs").iterdir():
        pack.unlink()
    assert len(sqlite_workspace.verify().corrupt) == 30


def test_symlink_out_of_the_folder_is_refused(workspace: Any, tmp_path: Path) -> None:
    root = tmp_path / "in"
    (root / "a").mkdir(parents=True)
    (root / "a" / "ok.txt").write_text("inside")
    secret = tmp_path / "secret.txt"
    secret.write_text("outside")
    (root / "a" / "link.txt").symlink_to(secret)
    with pytest.raises(InvalidInputError, match="outside the input folder"):
        workspace.data.add(root, name="x")
    assert workspace.data.list_datasets() == []
    (root / "a" / "link.txt").unlink()
    (root / ".store").mkdir()
    (root / ".store" / "real.txt").write_text("kept in a hidden folder")
    (root / "a" / "inner.txt").symlink_to(root / ".store" / "real.txt")
    version = workspace.data.add(root, name="x", label_from_folder=True)
    # A link inside the folder is stored as the bytes it points to; hidden folders are skipped.
    frame = workspace.data.load("x@v1")
    assert version.items == 2 and sorted(frame.path) == ["a/inner.txt", "a/ok.txt"]
    exported = workspace.data.export("x@v1", tmp_path / "out", purpose="test")
    assert not any(p.is_symlink() for p in exported)
    assert (tmp_path / "out" / "a" / "inner.txt").read_text() == "kept in a hidden folder"


def test_unsafe_item_paths_are_refused() -> None:
    for bad in ("../x", "/etc/passwd", "a/../../b", "", "a\\..\\b", "a\x00b", "a//b", "./a"):
        with pytest.raises(InvalidInputError):
            check_relpath(bad)
    assert check_relpath("cat/1.jpg") == "cat/1.jpg"


def test_enospc_while_packing_gives_a_clear_error_and_no_version(
    sqlite_workspace: Any, pets_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_fsync = os.fsync

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(StorageFullError, match="no space left"):
        sqlite_workspace.data.add(pets_folder, name="pets")
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert sqlite_workspace.data.list_datasets() == []
    assert not list((sqlite_workspace.objects.root / "tmp").iterdir())
    assert sqlite_workspace.data.add(pets_folder, name="pets").items == 30


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB tmpfs (needs root); skipped where mounting is not allowed."""
    mount = tmp_path / "tmpfs"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_full_tmpfs_gives_a_clear_error_and_no_partial_state(
    tmp_path: Path, small_tmpfs: Path, monkeypatch: pytest.MonkeyPatch, db_url: str
) -> None:
    monkeypatch.setenv("FLYWHEEL_DB_URL", db_url)
    monkeypatch.setenv("FLYWHEEL_BLOB_URL", str(small_tmpfs / "objects"))
    big = tmp_path / "big"
    (big / "a").mkdir(parents=True)
    for i in range(40):  # 40 x 100 KB: twice the tmpfs
        (big / "a" / f"{i}.bin").write_bytes(os.urandom(100_000))
    (big / "a" / "large.bin").write_bytes(os.urandom(3_000_000))
    with fw.init_workspace(tmp_path / "ws") as ws:
        with pytest.raises(StorageFullError):
            ws.data.add(big, name="big")
        assert ws.data.list_datasets() == []
        assert ws.verify().ok
        (big / "a" / "large.bin").unlink()
        for i in range(10, 40):
            (big / "a" / f"{i}.bin").unlink()
        assert ws.data.add(big, name="big").items == 10
        assert ws.verify().ok


def test_kill_9_during_add_leaves_no_version(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLYWHEEL_DB_URL", db_url)
    env = dict(os.environ)
    ws_dir = tmp_path / "ws"
    subprocess.run([FLYWHEEL, "init", str(ws_dir)], env=env, check=True, capture_output=True)
    source = tmp_path / "src"
    for i in range(3000):
        folder = source / f"d{i // 300}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{i}.bin").write_bytes(os.urandom(2048))
    (source / "d0" / "big.bin").write_bytes(os.urandom(48 << 20))
    add = [FLYWHEEL, "-C", str(ws_dir), "data", "add", str(source), "--name", "k"]
    killed_mid_add = 0
    # The CLI's fast path starts in ~0.1 s and adds these files in well under a second: the
    # first kills land early, the later ones mid-add (or after it, which the loop checks too).
    for delay in (0.1, 0.15, 0.2, 0.3, 0.4, 0.6, 0.8, 1.2, 1.6, 2.0):
        proc = subprocess.Popen(add, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            killed_mid_add += 1
        proc.wait()
        with fw.open_workspace(ws_dir) as ws:
            versions = [d.name for d in ws.data.list_datasets()]
            assert ws.verify().ok
            if versions:  # the add finished before the kill: it must be complete
                assert len(ws.data.load("k@v1")) == 3001
                break
    assert killed_mid_add >= 1
    done = subprocess.run(add, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    with fw.open_workspace(ws_dir) as ws:
        assert [v.items for v in ws.data.list_versions("k")] == [3001]
        assert ws.verify().ok
