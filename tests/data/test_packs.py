"""Pack files: small objects stored once, read back by digest, exported byte for byte."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from flywheel_ml.core.digests import digest_bytes
from flywheel_ml.data import ingest


def test_put_many_stores_each_object_once(workspace: Any, tmp_path: Path) -> None:
    packed = workspace.packed_objects
    blobs = [os.urandom(100 + i) for i in range(50)]
    digests = packed.put_many([*blobs, blobs[0]])
    assert digests[-1] == digests[0] == digest_bytes(blobs[0])
    packs = list((workspace.objects.root / "packs").iterdir())
    assert len(packs) == 1
    assert packed.put_many(blobs[:10]) == digests[:10]
    assert len(list((workspace.objects.root / "packs").iterdir())) == 1  # nothing new written
    assert all(packed.exists(d) for d in digests)
    assert packed.get_bytes(digests[7]) == blobs[7]
    assert packed.open(digests[8]).read() == blobs[8]
    assert set(workspace.iter_object_digests()) >= set(digests)
    targets = [(d, str(tmp_path / f"{i}.bin")) for i, d in enumerate(digests[:5])]
    packed.export_many(targets)
    assert [Path(t).read_bytes() for _, t in targets] == blobs[:5]
    assert all(ok for _, ok in packed.check_packed())


def test_same_files_in_two_datasets_are_stored_once(
    sqlite_workspace: Any, pets_folder: Path
) -> None:
    data = sqlite_workspace.data
    data.add(pets_folder, name="a", label_from_folder=True)
    size = sum(p.stat().st_size for p in (sqlite_workspace.objects.root / "packs").iterdir())
    data.add(pets_folder, name="b")
    after = sum(p.stat().st_size for p in (sqlite_workspace.objects.root / "packs").iterdir())
    assert after == size


def test_unchanged_files_are_not_read_again(
    sqlite_workspace: Any, pets_folder: Path, monkeypatch: Any
) -> None:
    data = sqlite_workspace.data
    # Files written in the instant they are hashed are re-hashed next time (the "racy" rule),
    # so age them first.
    past = time.time() - 10
    for path in pets_folder.rglob("*.txt"):
        os.utime(path, (past, past))
    data.add(pets_folder, name="a", label_from_folder=True)
    (pets_folder / "cat" / "extra.txt").write_bytes(b"one more cat")
    read: list[str] = []
    real_read_many = ingest._read_many

    def spy(batch: Any) -> list[bytes]:  # every input read goes through here (C or Python)
        read.extend(f.path for f in batch)
        return real_read_many(batch)

    monkeypatch.setattr(ingest, "_read_many", spy)
    version = data.add(pets_folder, name="a", label_from_folder=True)
    assert version.number == 2 and version.items == 31
    assert read == [str(pets_folder / "cat" / "extra.txt")]


def test_big_loose_object_exports_byte_for_byte_and_a_corrupt_one_is_refused(
    sqlite_workspace: Any, tmp_path: Path
) -> None:
    import pytest

    from flywheel_ml.errors import IntegrityError

    packed = sqlite_workspace.packed_objects
    source = tmp_path / "big.bin"
    data = os.urandom(17 << 20)  # over the size exported through the checked copy
    source.write_bytes(data + b"tail")  # a length that is not a multiple of the block size
    digest = packed.put_file(source)
    out = tmp_path / "out.bin"
    packed.export_many([(digest, str(out))])
    assert out.read_bytes() == source.read_bytes()
    stored = sqlite_workspace.objects.path_of(digest)
    stored.chmod(0o644)
    with stored.open("r+b") as handle:
        handle.seek(5 << 20)
        handle.write(b"\x00" * 8 if data[5 << 20] else b"\x01" * 8)
    again = tmp_path / "again.bin"
    with pytest.raises(IntegrityError, match="corrupt"):
        packed.export_many([(digest, str(again))])
    assert not again.exists()  # no file with the wrong bytes is left behind
