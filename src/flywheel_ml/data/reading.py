"""Reading versions back: references, manifests, ``load`` with the sealed test set, export."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

from flywheel_ml.core.clock import utc_now
from flywheel_ml.core.digests import Digest
from flywheel_ml.core.events import EventLog
from flywheel_ml.core.identity import current_actor
from flywheel_ml.core.ids import new_id
from flywheel_ml.data.entities import SPLITS, Dataset, DatasetVersion, SealedRead
from flywheel_ml.data.readers import check_relpath
from flywheel_ml.data.store import DataObjects, DataStore
from flywheel_ml.data.versions import (
    ROW_COLUMN,
    SPLIT_COLUMN,
    decode_manifest,
    parse_ref,
)
from flywheel_ml.errors import ConflictError, InvalidInputError, NotFoundError, SealedTestError

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

ExportFormat = Literal["parquet", "csv", "jsonl"]
MAX_ITEM_FILE_BYTES = 64 << 20
"""The largest file :meth:`VersionReader.item_file` returns (it is read into memory)."""


class VersionReader:
    """Resolves references and reads versions; the base of :class:`DataStage`."""

    def __init__(self, store: DataStore, objects: DataObjects, *, events: EventLog) -> None:
        self._store = store
        self._objects = objects
        self._events = events
        self.load_listeners: list[Callable[[DatasetVersion], None]] = []
        """Called with the version after every successful :meth:`load`; the workspace uses it
        to record the dataset on the run open in this process (data cannot import track)."""

    def list_datasets(self) -> list[Dataset]:
        """Every dataset, by name."""
        return self._store.list_datasets()

    def list_versions(self, name: str) -> list[DatasetVersion]:
        """Every version of dataset ``name``, oldest first.

        Raises:
            NotFoundError: no such dataset.
        """
        versions = self._store.list_versions(name)
        if not versions:
            raise _no_dataset(name)
        return versions

    def get_dataset(self, name: str) -> Dataset:
        """The dataset ``name``.

        Raises:
            NotFoundError: no such dataset.
        """
        dataset = self._store.get_dataset(name)
        if dataset is None:
            raise _no_dataset(name)
        return dataset

    def get_version(self, ref: str) -> DatasetVersion:
        """The version named by ``NAME@vN``, ``NAME@latest``, ``NAME`` or a digest prefix.

        Raises:
            NotFoundError: nothing matches.
            InvalidInputError: a malformed reference or an ambiguous digest prefix.
        """
        parsed = parse_ref(ref)
        if parsed.prefix is not None:
            found = self._store.find_versions(parsed.prefix)
            if len(found) > 1:
                raise InvalidInputError(
                    f"digest prefix {ref!r} matches {len(found)} versions",
                    hint="give more hex characters",
                )
            if not found:
                raise NotFoundError(f"no dataset version {ref!r}", hint="see `flywheel data list`")
            return found[0]
        assert parsed.name is not None
        if parsed.number is None:
            version = self._store.latest_version(parsed.name)
        else:
            version = self._store.get_version(parsed.name, parsed.number)
        if version is None:
            if self._store.get_dataset(parsed.name) is None:
                raise _no_dataset(parsed.name)
            raise NotFoundError(
                f"dataset {parsed.name!r} has no version {ref.split('@', 1)[-1]}",
                hint=f"see `flywheel data versions {parsed.name}`",
            )
        return version

    def manifest(self, version: DatasetVersion) -> dict[str, Any]:
        """The version's manifest, read from the object store."""
        return decode_manifest(self._objects.get_bytes(version.digest))

    def _arrow(self, manifest: dict[str, Any]) -> pa.Table:
        import pyarrow as pa
        import pyarrow.parquet as pq

        parts = []
        for part in manifest["parts"]:
            with self._objects.open(Digest(part["object"])) as handle:
                parts.append(pq.read_table(handle))
        return parts[0] if len(parts) == 1 else pa.concat_tables(parts)

    def load(
        self,
        ref: str,
        *,
        split: str | None = None,
        purpose: str | None = None,
        as_arrow: bool = False,
        with_split: bool = False,
    ) -> Any:
        """The items of a version as a pandas DataFrame (an Arrow table with ``as_arrow``).

        Tables keep their columns and id column; folder datasets give ``item_id``, ``path``,
        ``label``, ``object`` and ``size``. ``split`` picks ``train``, ``val`` or ``test``.
        Test labels are sealed: ``split="test"`` (or any read of a named test set) needs a
        ``purpose``, and the read is recorded for ``data audit``. Without a purpose, a read of
        all items returns test items with their label set to missing. ``with_split`` adds a
        ``__split__`` column.

        Raises:
            SealedTestError: test labels were asked for without a purpose.
            InvalidInputError: an unknown split.
        """
        import pyarrow as pa
        import pyarrow.compute as pc

        if split is not None and split not in SPLITS:
            raise InvalidInputError(f"unknown split {split!r}", hint="use train, val or test")
        version = self.get_version(ref)
        manifest = self.manifest(version)
        label = manifest.get("label")
        is_test_set = self.get_dataset(version.dataset).role == "test_set"
        wants_test = split == "test" or is_test_set
        if wants_test and not purpose:
            what = "is a sealed test set" if is_test_set else "test split is sealed"
            raise SealedTestError(
                f"{version.ref} {what}",
                hint="pass purpose='why you read it' (--purpose); the read is recorded",
            )
        if manifest["kind"] == "table":
            table = self._arrow(manifest)
        else:
            items = {k: v for k, v in manifest["items"].items() if v is not None}
            items[SPLIT_COLUMN] = items.pop("split")
            table = pa.table(items)
        if split is not None:
            table = table.filter(pc.equal(table[SPLIT_COLUMN], split))
        is_test = pc.equal(table[SPLIT_COLUMN], "test")
        test_rows = int(pc.sum(is_test).as_py() or 0)
        if label is not None and test_rows and label in table.column_names:
            if purpose:
                self._record_read(version, purpose, test_rows)
            else:
                column = table[label]
                masked = pc.if_else(is_test, pa.scalar(None, column.type), column)
                table = table.set_column(table.column_names.index(label), label, masked)
        if with_split:
            table = table.append_column("__split__", table[SPLIT_COLUMN])
        drop = [c for c in (SPLIT_COLUMN, ROW_COLUMN) if c in table.column_names]
        table = table.drop_columns(drop)
        for listener in self.load_listeners:
            listener(version)
        return table if as_arrow else table.to_pandas()

    def _record_read(self, version: DatasetVersion, purpose: str, rows: int) -> None:
        read = SealedRead(new_id(), version.dataset, version.digest, purpose.strip()[:2000], rows,
                        current_actor(), utc_now())  # fmt: skip
        self._store.record_test_read(read)
        self._events.record(
            stage="data", kind="test.read", subject=version.ref,
            detail={"purpose": read.purpose, "rows": rows},
        )  # fmt: skip

    def item_index(self, version: DatasetVersion) -> dict[str, tuple[Any, Any]]:
        """``item id -> (label, content key)`` of a version, for diffs."""
        manifest = self.manifest(version)
        if manifest["kind"] == "files":
            items = manifest["items"]
            labels = items["label"] or [None] * len(items["item_id"])
            return {i: (lab, obj) for i, lab, obj in
                    zip(items["item_id"], labels, items["object"], strict=True)}  # fmt: skip
        table = self._arrow(manifest)
        ids = table[manifest["id_column"]].cast("string").to_pylist()
        label = manifest.get("label")
        labels = table[label].to_pylist() if label else [None] * len(ids)
        rows = table[ROW_COLUMN].to_pylist()
        return dict(zip(ids, zip(labels, rows, strict=True), strict=True))

    def item_file(self, ref: str, item: str) -> tuple[bytes, str]:
        """The bytes and stored relative path of one file of a folder dataset version.

        The file is found by its item id in the version's manifest (never by a path the
        caller gives), so nothing outside the version's objects can be read. Test items'
        bytes are served like any other: a file's bytes are not its label (the label folder
        in the path is the caller's to keep back).

        Raises:
            NotFoundError: no such version, a table dataset, or no such item.
            InvalidInputError: the file is larger than :data:`MAX_ITEM_FILE_BYTES`.
        """
        version = self.get_version(ref)
        manifest = self.manifest(version)
        if manifest["kind"] != "files":
            raise NotFoundError(
                f"{version.ref} is a table dataset: its items are rows, not files",
                hint="item files exist only in folder datasets",
            )
        items = manifest["items"]
        try:
            row = items["item_id"].index(item)
        except ValueError:
            raise NotFoundError(
                f"{version.ref} has no item {item!r}", hint=f"see `flywheel data show {ref}`"
            ) from None
        if int(items["size"][row]) > MAX_ITEM_FILE_BYTES:
            raise InvalidInputError(
                f"item {item} is {int(items['size'][row]):,} bytes, too large to send",
                hint=f"export the version: flywheel data export {version.ref}",
            )
        return self._objects.get_bytes(Digest(items["object"][row])), str(items["path"][row])

    def leaked_items(self, ref: str) -> list[str]:
        """Ids of items whose exact content also occurs in another split of the version."""
        version = self.get_version(ref)
        manifest = self.manifest(version)
        if manifest["kind"] == "files":
            return []  # a file's id is its content digest: equal bytes are one item
        table = self._arrow(manifest).select([manifest["id_column"], SPLIT_COLUMN, ROW_COLUMN])
        frame = table.to_pandas()
        splits_per_row = frame.groupby(ROW_COLUMN)[SPLIT_COLUMN].nunique()
        leaky = set(splits_per_row[splits_per_row > 1].index)
        leaked = frame.loc[frame[ROW_COLUMN].isin(leaky), manifest["id_column"]]
        return sorted(str(i) for i in leaked.tolist())

    def export(
        self,
        ref: str,
        to: str | os.PathLike[str],
        *,
        format: ExportFormat = "parquet",
        purpose: str | None = None,
    ) -> Sequence[Path]:
        """Write a version out: a table as one file, a folder dataset as its files.

        Returns the files written (as a sequence that makes each :class:`Path` when read).

        Without a ``purpose`` test labels stay sealed: a table's test labels are left empty
        and a labelled folder dataset's test files are not written. Existing files are never
        overwritten.

        Raises:
            ConflictError: a target file exists already.
        """
        version = self.get_version(ref)
        manifest = self.manifest(version)
        out = Path(to)
        out.mkdir(parents=True, exist_ok=True)
        if manifest["kind"] == "table":
            return WrittenFiles([str(self._export_table(version, out, format, purpose))])
        return self._export_files(version, manifest, out, purpose)

    def _export_table(
        self, version: DatasetVersion, out: Path, fmt: ExportFormat, purpose: str | None
    ) -> Path:
        frame: pd.DataFrame = self.load(version.digest, purpose=purpose)
        target = out / f"{version.dataset}-v{version.number}.{fmt}"
        if target.exists():
            raise ConflictError(f"{target} exists already", hint="export into an empty folder")
        if fmt == "parquet":
            frame.to_parquet(target, index=False)
        elif fmt == "csv":
            frame.to_csv(target, index=False)
        elif fmt == "jsonl":
            frame.to_json(target, orient="records", lines=True)
        else:
            raise InvalidInputError(f"unknown format {fmt!r}", hint="parquet, csv or jsonl")
        return target

    def _export_files(
        self, version: DatasetVersion, manifest: dict[str, Any], out: Path, purpose: str | None
    ) -> WrittenFiles:
        items = manifest["items"]
        sealed = manifest.get("label") is not None and not purpose
        root = os.path.realpath(out)
        targets: list[tuple[Digest, str]] = []
        folders: set[str] = set()
        test_rows = 0
        # String paths, not pathlib: this loop runs once per file (tens of thousands).
        for rel, obj, split in zip(items["path"], items["object"], items["split"], strict=True):
            if split == "test":
                test_rows += 1
                if sealed:
                    continue
            check_relpath(rel)
            target = f"{root}/{rel}"
            folders.add(target.rpartition("/")[0])
            targets.append((Digest(obj), target))
        for folder in sorted(folders):
            os.makedirs(folder, exist_ok=True)
            # A symlinked folder inside the export folder must not lead writes outside it.
            real = os.path.realpath(folder)
            if real != root and not real.startswith(root + os.sep):
                raise InvalidInputError(
                    f"{folder} leads outside the export folder {root}",
                    hint="export into an empty folder",
                )
        try:
            self._objects.export_many(targets)
        except FileExistsError as exc:
            raise ConflictError(f"{exc.filename} exists already",
                                hint="export into an empty folder") from None  # fmt: skip
        if purpose and test_rows and manifest.get("label") is not None:
            self._record_read(version, purpose, test_rows)
        return WrittenFiles([t for _, t in targets])


class WrittenFiles(Sequence[Path]):
    """The files an export wrote. Paths are made when read: building 20,000 :class:`Path`
    objects up front costs ~0.2 s, a quarter of the export, and the CLI only counts them."""

    __slots__ = ("_paths",)

    def __init__(self, paths: list[str]) -> None:
        self._paths = paths

    def __len__(self) -> int:
        return len(self._paths)

    @overload
    def __getitem__(self, index: int) -> Path: ...

    @overload
    def __getitem__(self, index: slice) -> list[Path]: ...

    def __getitem__(self, index: int | slice) -> Path | list[Path]:
        if isinstance(index, slice):
            return [Path(p) for p in self._paths[index]]
        return Path(self._paths[index])

    def __repr__(self) -> str:
        return f"WrittenFiles({len(self._paths)} files)"


def _no_dataset(name: str) -> NotFoundError:
    return NotFoundError(f"no dataset {name!r}", hint="see `flywheel data list`")
