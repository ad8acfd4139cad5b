"""The content-addressed object store: local folder and fsspec URLs."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from flywheel_ml.backends import hashing_copy
from flywheel_ml.backends.blobs import FsspecObjectStore, LocalObjectStore, open_object_store
from flywheel_ml.core.digests import Digest, digest_bytes, digest_file
from flywheel_ml.errors import IntegrityError, InvalidInputError, NotFoundError, StorageFullError
from flywheel_ml.workspace import Workspace


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def test_put_get_round_trip_and_layout(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "objects")
    digest = store.put_bytes(b"hello")
    assert digest == digest_bytes(b"hello")
    hexdigest = digest.removeprefix("blake3:")
    assert store.path_of(digest) == tmp_path / "objects" / hexdigest[:2] / hexdigest[2:]
    assert store.get_bytes(digest) == b"hello"
    assert store.exists(digest)
    assert store.size(digest) == 5
    with store.open(digest) as handle:
        assert handle.read() == b"hello"
    assert list(store.iter_digests()) == [digest]
    assert store.check(digest)


def test_put_is_idempotent(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "objects")
    first = store.put_bytes(b"same bytes")
    path = store.path_of(first)
    stat = path.stat()
    assert store.put_bytes(b"same bytes") == first
    source = tmp_path / "file"
    source.write_bytes(b"same bytes")
    assert store.put_file(source) == first
    assert path.stat().st_mtime_ns == stat.st_mtime_ns
    assert path.stat().st_ino == stat.st_ino
    assert [p.name for p in _files(tmp_path / "objects")] == [path.name]


def test_write_goes_to_a_temp_file_fsynced_then_renamed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalObjectStore(tmp_path / "objects")
    calls: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        calls.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        calls.append(("replace", os.fspath(src)))
        assert not Path(dst).exists()  # readers never see a partial object under its name
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    digest = store.put_bytes(b"x" * 10_000)
    (op1, tmp1), (op2, tmp2) = calls
    assert (op1, op2) == ("fsync", "replace")
    assert tmp1 == tmp2
    assert Path(tmp1).parent == tmp_path / "objects" / "tmp"
    assert store.get_bytes(digest) == b"x" * 10_000
    assert _files(tmp_path / "objects" / "tmp") == []


def test_put_file_copies_and_links(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "objects")
    big = tmp_path / "big.bin"
    data = os.urandom(3 << 20)
    big.write_bytes(data)
    copied = store.put_file(big)
    assert copied == digest_bytes(data)
    assert store.get_bytes(copied) == data
    assert store.path_of(copied).stat().st_ino != big.stat().st_ino
    small = tmp_path / "small.bin"
    small.write_bytes(b"link me")
    linked = store.put_file(small, link=True)
    assert store.get_bytes(linked) == b"link me"
    assert store.path_of(linked).stat().st_ino == small.stat().st_ino
    assert _files(tmp_path / "objects" / "tmp") == []


def test_nothing_is_written_outside_the_root(tmp_path: Path) -> None:
    root = tmp_path / "objects"
    store = LocalObjectStore(root)
    for n in range(20):
        store.put_bytes(f"object {n}".encode())
    outside = [p for p in _files(tmp_path) if root not in p.parents]
    assert outside == []


@pytest.mark.parametrize(
    "bad",
    ["blake3:../../x", "blake3:../../../etc/passwd", "blake3:" + "a" * 64 + "\n", "../x", "/etc"],
)
def test_traversal_like_digests_are_rejected(tmp_path: Path, bad: str) -> None:
    store = LocalObjectStore(tmp_path / "objects")
    for call in (store.path_of, store.exists, store.get_bytes, store.open, store.size):
        with pytest.raises(InvalidInputError):
            call(Digest(bad))


def test_missing_object(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "objects")
    absent = digest_bytes(b"never stored")
    assert not store.exists(absent)
    with pytest.raises(NotFoundError):
        store.get_bytes(absent)
    with pytest.raises(NotFoundError):
        store.open(absent)


def _enospc(*_args: object) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


def test_disk_full_on_put_bytes_removes_the_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalObjectStore(tmp_path / "objects")
    monkeypatch.setattr(os, "fsync", _enospc)
    with pytest.raises(StorageFullError) as info:
        store.put_bytes(b"does not fit")
    assert "nothing was recorded" in info.value.hint
    assert not store.exists(digest_bytes(b"does not fit"))
    assert _files(tmp_path / "objects") == []


def test_disk_full_on_put_file_removes_the_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalObjectStore(tmp_path / "objects")
    source = tmp_path / "data.bin"
    source.write_bytes(b"z" * 100_000)
    monkeypatch.setattr(os, "pwrite", _enospc)
    with pytest.raises(StorageFullError):
        store.put_file(source)
    assert _files(tmp_path / "objects") == []


@pytest.mark.parametrize("size", [0, 1, 4095, 4097, 3 * 16384 + 5])
@pytest.mark.parametrize("direct", [True, False])
def test_copy_and_hash_stores_exactly_the_hashed_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: int, direct: bool
) -> None:
    # Small chunks, so a few KiB cross several chunks and end in a partial block.
    monkeypatch.setattr(hashing_copy, "_CHUNK", 16384)
    source = tmp_path / "src.bin"
    source.write_bytes(os.urandom(size))
    dest = tmp_path / "dest.bin"
    if direct:
        fd = hashing_copy.open_for_copy(dest)
    else:
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        digest = hashing_copy.copy_and_hash(source, fd)
    finally:
        os.close(fd)
    assert dest.read_bytes() == source.read_bytes()
    assert digest == digest_file(source) == digest_bytes(source.read_bytes())


def test_put_file_of_a_known_object_leaves_one_copy(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "objects")
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(3 << 20))
    first = store.put_file(source)
    assert store.put_file(source) == first
    assert store.get_bytes(first) == source.read_bytes() and store.check(first)
    assert len(_files(tmp_path / "objects")) == 1


TMPFS_WRITER = r"""
import sys
from pathlib import Path
from flywheel_ml.backends.blobs import LocalObjectStore
from flywheel_ml.errors import StorageFullError
root = Path(sys.argv[1])
store = LocalObjectStore(root)
small = store.put_bytes(b"fits")
try:
    store.put_bytes(b"\x01" * (1 << 20))
except StorageFullError as exc:
    print("FULL", exc.one_line())
leftover = sorted(str(p) for p in (root / "tmp").iterdir())
print("LEFT", leftover)
print("SMALL", store.get_bytes(small) == b"fits")
"""


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare(1)")
def test_disk_full_on_a_real_tiny_tmpfs(tmp_path: Path) -> None:
    mount = tmp_path / "tiny"
    mount.mkdir()
    script = (
        f"mount -t tmpfs -o size=256k tmpfs {mount} || exit 77; "
        f"{sys.executable} -c '{TMPFS_WRITER}' {mount}/objects"
    )
    result = subprocess.run(
        ["unshare", "-rm", "sh", "-c", script],
        capture_output=True,
        text=True,
        env=os.environ,
        check=False,
    )
    if result.returncode == 77 or "Operation not permitted" in result.stderr:
        pytest.skip("cannot mount a tmpfs in a user namespace here")
    assert result.returncode == 0, result.stderr
    assert "FULL no space left in the object store" in result.stdout
    assert "LEFT []" in result.stdout
    assert "SMALL True" in result.stdout


def test_verify_finds_every_altered_object(sqlite_workspace: Workspace) -> None:
    ws = sqlite_workspace
    digests = [ws.objects.put_bytes(f"object number {n}".encode() * (n + 1)) for n in range(40)]
    assert ws.verify().ok
    paths = [ws.objects.path_of(d) for d in digests]  # type: ignore[union-attr]
    altered: list[Digest] = []

    def flip(path: Path) -> None:
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0x01
        path.write_bytes(bytes(data))

    def other(path: Path) -> None:
        path.write_bytes(paths[0].read_bytes() + b"!")

    edits = [
        flip,
        lambda p: p.write_bytes(p.read_bytes()[:-1]),
        lambda p: p.write_bytes(p.read_bytes() + b"\0"),
        lambda p: p.write_bytes(b""),
        other,
    ]
    for index, edit in zip(range(5, 40, 3), edits * 3, strict=False):
        os.chmod(paths[index], 0o644)
        edit(paths[index])
        altered.append(digests[index])
    seen: list[int] = []
    report = ws.verify(progress=seen.append)
    assert report.checked == 40
    assert set(report.corrupt) == set(altered)
    assert len(report.corrupt) == len(altered) == 12
    assert not report.ok
    assert seen == list(range(1, 41))


@pytest.fixture
def memory_url() -> str:
    return f"memory://flywheel-test-{uuid.uuid4().hex}/objects"


def test_fsspec_memory_store(memory_url: str) -> None:
    store = open_object_store(memory_url)
    assert isinstance(store, FsspecObjectStore)
    digest = store.put_bytes(b"remote bytes")
    assert store.put_bytes(b"remote bytes") == digest
    assert store.exists(digest)
    assert store.get_bytes(digest) == b"remote bytes"
    assert store.open(digest).read() == b"remote bytes"
    assert store.size(digest) == 12
    assert list(store.iter_digests()) == [digest]
    assert store.check(digest)
    assert not any("/tmp/" in key for key in store.fs.find(memory_url))
    with pytest.raises(NotFoundError):
        store.get_bytes(digest_bytes(b"absent"))


def test_fsspec_put_file(memory_url: str, tmp_path: Path) -> None:
    store = FsspecObjectStore(memory_url)
    source = tmp_path / "f"
    source.write_bytes(b"file bytes")
    digest = store.put_file(source)
    assert store.get_bytes(digest) == b"file bytes"


def test_fsspec_download_with_wrong_bytes_raises(memory_url: str) -> None:
    store = FsspecObjectStore(memory_url)
    digest = store.put_bytes(b"original")
    hexdigest = digest.removeprefix("blake3:")
    store.fs.pipe_file(f"{memory_url}/{hexdigest[:2]}/{hexdigest[2:]}", b"tampered")
    with pytest.raises(IntegrityError) as info:
        store.get_bytes(digest)
    assert digest in info.value.message
    with pytest.raises(IntegrityError):
        store.open(digest)
    assert not store.check(digest)


def test_open_object_store_picks_the_backend(tmp_path: Path, memory_url: str) -> None:
    assert isinstance(open_object_store(str(tmp_path / "a")), LocalObjectStore)
    local = open_object_store(f"file://{tmp_path / 'b'}")
    assert isinstance(local, LocalObjectStore) and local.root == tmp_path / "b"
    assert isinstance(open_object_store(memory_url), FsspecObjectStore)


def test_workspace_on_an_fsspec_store(
    tmp_path: Path, memory_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import flywheel_ml as fw

    monkeypatch.setenv("FLYWHEEL_BLOB_URL", memory_url)
    with fw.init_workspace(tmp_path / "ws") as ws:
        assert isinstance(ws.objects, FsspecObjectStore)
        digest = ws.objects.put_bytes(b"in memory")
        report = ws.verify()
        assert report.checked == 1 and report.ok
        assert ws.objects.get_bytes(digest) == b"in memory"
    assert not (tmp_path / "ws" / ".flywheel" / "objects").exists()


def test_verify_sweeps_only_stale_temporary_files(sqlite_workspace: Any) -> None:
    ws = sqlite_workspace
    tmp = ws.objects.root / "tmp"
    stale, fresh = tmp / "killed-write.pack", tmp / "live-write"
    stale.write_bytes(b"half a pack")
    fresh.write_bytes(b"being written")
    day_ago = time.time() - 24 * 3600
    os.utime(stale, (day_ago, day_ago))
    report = ws.verify()
    assert report.ok and report.swept == 1
    assert not stale.exists() and fresh.exists()
