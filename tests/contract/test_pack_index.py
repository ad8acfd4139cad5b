"""The pack index contract (digest -> pack, offset, length), on SQLAlchemy's SQLite and
PostgreSQL and on the stdlib ``sqlite3`` driver of the CLI's fast path; and the pack store over
each of them."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flywheel_ml.backends.blobs import LocalObjectStore
from flywheel_ml.backends.pack_index import PackIndex
from flywheel_ml.backends.packs import PackedObjectStore
from flywheel_ml.backends.sql.database import open_database
from flywheel_ml.backends.sql.migrate import ensure_schema
from flywheel_ml.core.digests import digest_bytes


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres), "stdlib"])
def pack_index(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[PackIndex]:
    """An empty pack index in a migrated database."""
    from flywheel_ml.backends.sql.pack_store import SqlPackIndex
    from flywheel_ml.backends.sql.sqlite_stdlib import StdlibPackIndex, StdlibSqlite

    path = tmp_path / "store.db"
    url = str(request.getfixturevalue("pg_url")) if request.param == "postgres" else ""
    db = open_database(url or f"sqlite:///{path}")
    ensure_schema(db)
    db.count_changes = True
    if request.param != "stdlib":
        try:
            yield SqlPackIndex(db)
        finally:
            db.dispose()
        return
    db.dispose()
    stdlib = StdlibSqlite(path)
    try:
        yield StdlibPackIndex(stdlib)
    finally:
        stdlib.close()


def _digest(n: int) -> str:
    return digest_bytes(f"object {n}".encode())


def test_insert_locate_and_list(pack_index: PackIndex) -> None:
    rows = [(_digest(n), "p1" if n < 3 else "p2", 100 * (n % 3), 10 + n) for n in range(5)]
    pack_index.insert(sorted(rows))
    assert pack_index.locate([]) == {}
    found = pack_index.locate([_digest(4), _digest(0), _digest(99)])
    assert found == {_digest(4): ("p2", 100, 14), _digest(0): ("p1", 0, 10)}
    # A digest indexed again keeps its first location (both hold the same bytes).
    pack_index.insert([(_digest(0), "p9", 7, 10)])
    assert pack_index.locate([_digest(0)]) == {_digest(0): ("p1", 0, 10)}
    assert pack_index.all_locations() == sorted(
        [(d, p, o, n) for d, p, o, n in rows], key=lambda r: (r[1], r[2])
    )


def test_locate_many_digests_at_once(pack_index: PackIndex) -> None:
    # More digests than one query may bind on old SQLite builds (999 parameters).
    rows = sorted((_digest(n), "pack", 10 * n, 10) for n in range(2500))
    pack_index.insert(rows)
    wanted = [*reversed([d for d, _, _, _ in rows]), "blake3:" + "0" * 64]
    found = pack_index.locate(wanted)
    assert len(found) == 2500
    assert all(found[d] == ("pack", o, n) for d, _, o, n in rows)


def test_pack_store_over_the_index(pack_index: PackIndex, tmp_path: Path) -> None:
    packed = PackedObjectStore(LocalObjectStore(tmp_path / "objects"), pack_index)
    blobs = [os.urandom(100 + i) for i in range(40)]
    digests = packed.put_many([*blobs, blobs[0]])
    assert digests[-1] == digests[0] == digest_bytes(blobs[0])
    assert len(list((tmp_path / "objects" / "packs").iterdir())) == 1
    assert packed.put_many(blobs[:5]) == digests[:5]  # known objects: no second pack
    assert len(list((tmp_path / "objects" / "packs").iterdir())) == 1
    assert packed.get_bytes(digests[7]) == blobs[7]
    assert packed.open(digests[8]).read() == blobs[8]
    assert all(packed.exists(d) for d in digests)
    assert set(packed.iter_digests()) == set(digests)
    targets: list[Any] = [(d, str(tmp_path / f"{i}.bin")) for i, d in enumerate(digests[:3])]
    packed.export_many(targets)
    assert [Path(t).read_bytes() for _, t in targets] == blobs[:3]
    assert all(ok for _, ok in packed.check_packed())
