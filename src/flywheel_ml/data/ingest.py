"""Turning inputs into stored items: table rows with ids and splits, folder files as objects."""

from __future__ import annotations

import io
import os
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flywheel_ml.core.digests import Digest, digest_bytes, hex_of
from flywheel_ml.data.entities import SplitPolicy
from flywheel_ml.data.filecache import FileCache
from flywheel_ml.data.readers import ScannedFile, native
from flywheel_ml.data.schema import infer_files_schema, infer_table_schema
from flywheel_ml.data.splits import assign_splits
from flywheel_ml.data.store import DataObjects
from flywheel_ml.data.versions import (
    ID_COLUMN,
    INTERNAL_PREFIX,
    ROW_COLUMN,
    SPLIT_COLUMN,
    duplicate_error,
)
from flywheel_ml.errors import InvalidInputError

if TYPE_CHECKING:
    import pandas as pd

PACK_THRESHOLD = 1 << 20
"""Files below 1 MiB are read into memory and packed; larger ones are copied one by one."""
_BATCH_BYTES = 256 << 20
# Small files are read in chunks (one call of the C reader each): large enough to amortise the
# call, small enough that progress moves and memory stays bounded.
_READ_FILES = 2048
_READ_BYTES = 32 << 20


@dataclass(frozen=True, slots=True)
class PreparedTable:
    """A table ready to store: Parquet bytes with the id, split and row-content columns."""

    parquet: bytes
    rows: int
    id_column: str
    facts: dict[str, Any]


def prepare_table(
    frame: pd.DataFrame,
    *,
    id_column: str | None,
    label: str | None,
    policy: SplitPolicy,
    test_set: bool,
) -> PreparedTable:
    """Check ids and label, assign splits, infer the schema and encode the table as Parquet.

    Without ``id_column`` the id of a row is a digest of its content (column ``item_id``).

    Raises:
        InvalidInputError: a missing id or label column, empty or duplicate ids, or a column
            whose name starts with ``__fw_``.
    """
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    frame = frame.reset_index(drop=True)
    frame.columns = [str(c) for c in frame.columns]
    reserved = [c for c in frame.columns if c.startswith(INTERNAL_PREFIX)]
    if reserved:
        raise InvalidInputError(
            f"column names starting with {INTERNAL_PREFIX} are reserved: {reserved}",
            hint="rename those columns",
        )
    if label is not None and label not in frame.columns:
        raise InvalidInputError(
            f"label column {label!r} is not in the table (columns: {list(frame.columns)[:20]})",
            hint="pass --label with one of the table's columns",
        )
    if id_column is not None:
        if id_column not in frame.columns:
            raise InvalidInputError(
                f"id column {id_column!r} is not in the table",
                hint="pass --id with one of the table's columns, or none to use row digests",
            )
        if frame[id_column].isna().any():
            raise InvalidInputError(
                f"id column {id_column!r} has empty values", hint="give every row an id"
            )
        ids = frame[id_column].astype(str)
    else:
        id_column = ID_COLUMN
        if id_column in frame.columns:
            raise InvalidInputError(
                f"the table has a column {ID_COLUMN!r} but no --id was given",
                hint=f"pass --id {ID_COLUMN} to use it as the item id",
            )
        hashes = pd.util.hash_pandas_object(frame, index=False).to_numpy()
        ids = pd.Series([f"{h:016x}" for h in hashes.tolist()], dtype=object)
    duplicated = ids[ids.duplicated()]
    if len(duplicated):
        raise duplicate_error(sorted(set(duplicated.tolist())), where="the table")
    content = frame.drop(columns=[c for c in (id_column, label) if c in frame.columns])
    row_hash = pd.util.hash_pandas_object(content, index=False).to_numpy()
    id_list = ids.tolist()
    splits = ["test"] * len(id_list) if test_set else assign_splits(id_list, policy)
    stored = frame.copy()
    if id_column not in stored.columns:
        stored.insert(0, id_column, ids.to_numpy())
    stored[SPLIT_COLUMN] = splits
    stored[ROW_COLUMN] = row_hash
    table = pa.Table.from_pandas(stored, preserve_index=False)
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    schema = infer_table_schema(frame, skip=[id_column])
    labels = frame[label].astype(str).tolist() if label is not None else None
    facts = {
        "schema": schema,
        **label_facts(labels, splits),
        "duplicate_rows": int(pd.Series(row_hash).duplicated().sum()),
    }
    return PreparedTable(buffer.getvalue(), len(frame), id_column, facts)


def label_facts(labels: Sequence[str] | None, splits: Sequence[str]) -> dict[str, Any]:
    """Class balance overall and per split, and the item count per split."""
    per_split: dict[str, dict[str, Any]] = {
        s: {"items": 0, "labels": Counter()} for s in ("train", "val", "test")
    }
    for i, split in enumerate(splits):
        entry = per_split[split]
        entry["items"] += 1
        if labels is not None:
            entry["labels"][labels[i]] += 1
    overall = Counter(labels) if labels is not None else Counter()
    return {
        "labels": dict(sorted(overall.items())),
        "splits": {
            s: {"items": e["items"], "labels": dict(sorted(e["labels"].items()))}
            for s, e in per_split.items()
        },
    }


@dataclass(frozen=True, slots=True)
class FolderItems:
    """The files of a folder dataset after storing: parallel lists, sorted by path."""

    ids: list[str]
    paths: list[str]
    objects: list[str]
    sizes: list[int]
    labels: list[str] | None


def store_files(
    files: Sequence[ScannedFile],
    *,
    objects: DataObjects,
    cache: FileCache,
    link: bool,
    progress: Callable[[int], None] | None = None,
) -> list[Digest]:
    """Store every file's bytes (skipping unchanged files the cache knows) and return digests.

    Small files are packed in batches; large files are hashed with mmap and copied (or
    hardlinked with ``link``). The cache learns each digest only once its object is durable.
    """
    digests = cache.lookup_many(files)
    small: list[int] = []  # indices of files to read and pack
    for index, scanned in enumerate(files):
        if digests[index] is not None:
            continue
        if scanned.size < PACK_THRESHOLD:
            small.append(index)
            continue
        hashed_ns = time.time_ns()
        digest = objects.put_file(scanned.path, link=link)
        digests[index] = digest
        cache.remember(scanned, digest, hashed_ns=hashed_ns)
        if progress is not None:
            progress(index)
    _store_small(files, small, digests, objects=objects, cache=cache, progress=progress)
    return [d for d in digests if d is not None]


def _store_small(
    files: Sequence[ScannedFile],
    small: list[int],
    digests: list[Digest | None],
    *,
    objects: DataObjects,
    cache: FileCache,
    progress: Callable[[int], None] | None,
) -> None:
    """Read, hash and pack ``files[i]`` for each ``i`` in ``small``, filling in ``digests``."""
    pending: list[tuple[int, bytes, Digest]] = []
    pending_bytes = 0

    def flush() -> None:
        nonlocal pending, pending_bytes
        if not pending:
            return
        hashed_ns = time.time_ns()
        stored = objects.put_many([b for _, b, _ in pending], digests=[d for _, _, d in pending])
        for (index, _, _), digest in zip(pending, stored, strict=True):
            digests[index] = digest
        cache.remember_many([files[i] for i, _, _ in pending], stored, hashed_ns=hashed_ns)
        pending, pending_bytes = [], 0

    chunks = _chunks(small, files)
    if not chunks:
        return
    read = 0
    # One thread reads the next chunk (the C reader holds no GIL) while this one hashes the
    # last: reading and hashing 20k small files overlap instead of adding up.
    with ThreadPoolExecutor(1) as reader:
        ahead = reader.submit(_read_many, [files[i] for i in chunks[0]])
        for number, chunk in enumerate(chunks):
            blobs = ahead.result()
            if number + 1 < len(chunks):
                ahead = reader.submit(_read_many, [files[i] for i in chunks[number + 1]])
            for index, blob in zip(chunk, blobs, strict=True):
                pending.append((index, blob, digest_bytes(blob)))
                pending_bytes += len(blob)
            if pending_bytes >= _BATCH_BYTES:
                flush()
            read += len(chunk)
            # Not for a few files: the CLI starts its bar at the first report.
            if progress is not None and read >= 1000:
                progress(chunk[-1])
    flush()


def _chunks(indices: list[int], files: Sequence[ScannedFile]) -> list[list[int]]:
    """``indices`` cut into runs of at most ``_READ_FILES`` files and about ``_READ_BYTES``."""
    chunks: list[list[int]] = []
    current: list[int] = []
    size = 0
    for index in indices:
        current.append(index)
        size += files[index].size
        if len(current) >= _READ_FILES or size >= _READ_BYTES:
            chunks.append(current)
            current, size = [], 0
    if current:
        chunks.append(current)
    return chunks


def _read_many(batch: Sequence[ScannedFile]) -> list[bytes]:
    """The bytes of each file; the C reader takes the files still as scanned, Python the rest."""
    if native is None:
        return [_read(f) for f in batch]
    found = native.read([f.path for f in batch], [f.size for f in batch])
    return [data if data is not None else _read(f) for f, data in zip(batch, found, strict=True)]


def _read(scanned: ScannedFile) -> bytes:
    # os.read with the size from the scan: no file object, no buffer resizing (2x faster
    # than open().read() for small files). One byte more shows a file that grew since.
    try:
        fd = os.open(scanned.path, os.O_RDONLY)
        try:
            data = os.read(fd, scanned.size + 1)
            if len(data) > scanned.size:
                chunks = [data]
                while chunk := os.read(fd, 1 << 20):
                    chunks.append(chunk)
                data = b"".join(chunks)
        finally:
            os.close(fd)
    except OSError as exc:
        raise InvalidInputError(
            f"cannot read {scanned.relpath}: {exc.strerror}",
            hint="check the file's permissions",
        ) from exc
    return data


def folder_items(
    files: Sequence[ScannedFile],
    digests: Sequence[Digest],
    *,
    label_from_folder: bool,
) -> FolderItems:
    """Items of a folder: id = the first 32 hex of the content digest; label = parent folder.

    Raises:
        InvalidInputError: two files with the same bytes (duplicate ids), or a file at the top
            of the folder when labels come from folder names.
    """
    ids = [hex_of(d)[:32] for d in digests]
    counts = Counter(ids)
    if len(counts) != len(ids):
        by_id: dict[str, list[str]] = {}
        for item_id, f in zip(ids, files, strict=True):
            if counts[item_id] > 1:
                by_id.setdefault(item_id, []).append(f.relpath)
        dupes = [" = ".join(paths) for paths in by_id.values()]
        raise duplicate_error(dupes, where="the folder (files with identical bytes)")
    labels = None
    if label_from_folder:
        labels = []
        for f in files:
            parent = Path(f.relpath).parent.name
            if not parent:
                raise InvalidInputError(
                    f"{f.relpath} is not inside a label folder",
                    hint="put every file in a folder named after its label, e.g. cat/1.jpg",
                )
            labels.append(parent)
    return FolderItems(
        ids=ids,
        paths=[f.relpath for f in files],
        objects=[str(d) for d in digests],
        sizes=[f.size for f in files],
        labels=labels,
    )


def folder_facts(items: FolderItems, splits: Sequence[str]) -> dict[str, Any]:
    """Schema, class balance and split counts of a folder dataset."""
    return {
        "schema": infer_files_schema(items.paths, items.sizes),
        **label_facts(items.labels, splits),
        "duplicate_rows": 0,
    }


def tree_digest(items: FolderItems, *, options: str) -> str:
    """A digest of a folder's input (paths, contents, labels, options) for the no-op check."""
    parts = [options, *items.paths, *items.objects, *(items.labels or [])]
    return digest_bytes("\x00".join(parts).encode())
