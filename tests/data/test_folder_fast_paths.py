"""Fast paths of folder adds give exactly what the plain code gives: the C scan and reader (which
hand every case they do not handle back to Python) and the cache's whole-folder lookup; an export
refuses to overwrite."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from flywheel_ml.core.digests import digest_bytes
from flywheel_ml.data import ingest
from flywheel_ml.data.filecache import FileCache
from flywheel_ml.data.readers import ScannedFile, native, scan_folder, scan_folder_python
from flywheel_ml.errors import InvalidInputError

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="built on Linux")


def test_the_c_module_is_built_here() -> None:
    # `make dev` compiles it; without it every other test here would silently test nothing.
    assert native is not None


def _tree(root: Path) -> Path:
    (root / "a" / "deep" / "er").mkdir(parents=True)
    (root / "b").mkdir()
    (root / "empty").mkdir()
    (root / ".hidden").mkdir()
    (root / ".hidden" / "x.txt").write_text("hidden")
    (root / ".dot").write_text("hidden too")
    (root / "top.bin").write_bytes(b"\x00" * 10)
    (root / "zero").write_bytes(b"")
    (root / "a" / "deep" / "er" / "leaf.txt").write_text("leaf")
    (root / "a" / "é-accent.txt").write_text("accent")
    (root / "a" / "日本.txt").write_text("kanji")
    (root / "a" / "B.txt").write_text("upper before lower")
    (root / "a" / "b.txt").write_text("lower")
    for i in range(300):  # more than one readdir buffer
        (root / "b" / f"f{i:04d}.dat").write_bytes(os.urandom(i))
    os.mkfifo(root / "b" / "pipe")  # not a file of a dataset: skipped by both
    return root


def test_scan_matches_the_python_scan(tmp_path: Path) -> None:
    root = _tree(tmp_path / "data")
    assert native is not None
    fast = native.scan(str(root), ScannedFile)
    assert fast is not None
    assert fast == scan_folder_python(root)
    assert all(type(f) is ScannedFile for f in fast)
    rel = [f.relpath for f in fast]
    assert "a/deep/er/leaf.txt" in rel and "a/日本.txt" in rel and "zero" in rel
    assert not any(r.startswith(".") or "/." in r for r in rel)
    assert "b/pipe" not in rel
    assert rel == sorted(rel)


def test_scan_of_a_flat_folder_and_of_a_trailing_slash(tmp_path: Path) -> None:
    root = tmp_path / "flat"
    root.mkdir()
    for i in range(50):
        (root / f"{i}.txt").write_text(str(i))
    assert native is not None
    assert native.scan(str(root), ScannedFile) == scan_folder_python(root)
    with_slash = native.scan(str(root) + "/", ScannedFile)
    assert with_slash is not None
    assert [f.path for f in with_slash] == [f.path for f in scan_folder_python(root)]


def test_symlinks_are_left_to_the_python_scan(tmp_path: Path) -> None:
    root = _tree(tmp_path / "data")
    (root / "a" / "link.txt").symlink_to(root / "top.bin")
    assert native is not None
    assert native.scan(str(root), ScannedFile) is None
    found = scan_folder(root)  # the public scan falls back and follows the inside link
    assert found == scan_folder_python(root)
    assert any(f.relpath == "a/link.txt" and f.inode == 0 for f in found)
    outside = tmp_path / "secret.txt"
    outside.write_text("no")
    (root / "b" / "out").symlink_to(outside)
    with pytest.raises(InvalidInputError, match="outside the input folder"):
        scan_folder(root)


def test_names_that_are_not_utf8_are_left_to_the_python_scan(tmp_path: Path) -> None:
    root = tmp_path / "data"
    root.mkdir()
    (root / "ok.txt").write_text("ok")
    bad = os.path.join(os.fsencode(root), b"bad-\xff.txt")
    with open(bad, "wb") as handle:
        handle.write(b"x")
    assert native is not None
    assert native.scan(str(root), ScannedFile) is None
    with pytest.raises(InvalidInputError, match="not valid UTF-8"):
        scan_folder(root)


def test_a_missing_folder_gives_none(tmp_path: Path) -> None:
    assert native is not None
    assert native.scan(str(tmp_path / "nope"), ScannedFile) is None


def test_read_gives_the_bytes_and_none_for_what_changed(tmp_path: Path) -> None:
    root = _tree(tmp_path / "data")
    files = scan_folder_python(root)
    assert native is not None
    got = native.read([f.path for f in files], [f.size for f in files])
    assert got == [Path(f.path).read_bytes() for f in files]
    grown, gone = files[0], files[1]
    Path(grown.path).write_bytes(Path(grown.path).read_bytes() + b"more")
    Path(gone.path).unlink()
    again = native.read([f.path for f in files], [f.size for f in files])
    assert again[0] is None and again[1] is None
    assert again[2:] == got[2:]


def test_read_many_falls_back_to_python_for_changed_files(tmp_path: Path) -> None:
    root = _tree(tmp_path / "data")
    files = scan_folder_python(root)
    grown = files[5]
    Path(grown.path).write_bytes(Path(grown.path).read_bytes() + b"grew after the scan")
    data = ingest._read_many(files)
    assert data == [Path(f.path).read_bytes() for f in files]
    assert data[5].endswith(b"grew after the scan")
    Path(files[6].path).unlink()
    with pytest.raises(InvalidInputError, match="cannot read"):
        ingest._read_many(files)


def test_read_checks_its_arguments() -> None:
    assert native is not None
    with pytest.raises(ValueError, match="differ in length"):
        native.read(["a"], [])
    with pytest.raises(ValueError, match="negative"):
        native.read(["a"], [-1])
    with pytest.raises(TypeError):
        native.scan("/", int)  # type: ignore[type-var]


def test_cache_lookup_many_agrees_with_lookup(tmp_path: Path) -> None:
    root = _tree(tmp_path / "data")
    files = scan_folder_python(root)
    cache = FileCache(tmp_path / "cache.json")
    long_ago = time.time_ns() + 10**9  # hashed well after every mtime: trusted
    for i, scanned in enumerate(files):
        if i % 4 == 0:
            continue  # never cached
        hashed = scanned.mtime_ns if i % 4 == 1 else long_ago  # racy: hashed as it was written
        cache.remember(scanned, digest_bytes(str(i).encode()), hashed_ns=hashed)
    changed = [
        f._replace(size=f.size + 1)
        if i % 7 == 0
        else f._replace(inode=f.inode + 1)
        if i % 11 == 0
        else f
        for i, f in enumerate(files)
    ]
    many = cache.lookup_many(changed)
    assert many == [cache.lookup(f) for f in changed]
    assert any(d is not None for d in many) and any(d is None for d in many)


def test_export_of_packed_objects_refuses_an_existing_target(
    sqlite_workspace: Any, tmp_path: Path
) -> None:
    packed = sqlite_workspace.packed_objects
    blobs = [os.urandom(64 + i) for i in range(300)]
    digests = packed.put_many(blobs)
    out = tmp_path / "export"
    out.mkdir()
    targets = [(d, out / f"{i:03d}") for i, d in enumerate(digests)]
    (out / "150").write_bytes(b"in the way")
    with pytest.raises(FileExistsError) as raised:
        packed.export_many(targets)
    assert raised.value.filename == str(out / "150")
    assert (out / "150").read_bytes() == b"in the way"
    (out / "150").unlink()
    for _, target in targets:
        target.unlink(missing_ok=True)
    packed.export_many(targets)
    assert [t.read_bytes() for _, t in targets] == blobs
