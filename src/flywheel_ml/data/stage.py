"""The data stage's verbs: add versions, resolve references, split, check, slice and audit.

>>> v = ws.data.add("train.csv", name="reviews", label="sentiment")  # doctest: +SKIP
>>> train = ws.data.load("reviews@latest", split="train")           # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flywheel_ml.core.clock import utc_now
from flywheel_ml.core.digests import digest_bytes
from flywheel_ml.core.events import EventLog
from flywheel_ml.core.identity import current_actor
from flywheel_ml.core.lifecycle import Deliverable
from flywheel_ml.data.changes import FolderChanges, folder_changes, folder_options
from flywheel_ml.data.checks import run_checks
from flywheel_ml.data.entities import (
    CheckReport,
    Dataset,
    DatasetKind,
    DatasetRole,
    DatasetVersion,
    DataSlice,
    SealedRead,
    SplitPolicy,
    VersionDiff,
)
from flywheel_ml.data.evidence import data_deliverables
from flywheel_ml.data.filecache import FileCache, stat_signature
from flywheel_ml.data.ingest import (
    folder_facts,
    folder_items,
    prepare_table,
    store_files,
    tree_digest,
)
from flywheel_ml.data.readers import read_table, scan_input, table_format
from flywheel_ml.data.reading import VersionReader
from flywheel_ml.data.slices import evaluate, parse_where
from flywheel_ml.data.splits import assign_splits, validate_policy
from flywheel_ml.data.store import DataObjects, DataStore
from flywheel_ml.data.versions import MANIFEST_FORMAT, check_name, encode_manifest
from flywheel_ml.errors import ConflictError, InvalidInputError, NotFoundError

if TYPE_CHECKING:
    import pandas as pd


class DataStage(VersionReader):
    """Datasets of one workspace: versions, splits, the sealed test set, checks and slices.

    Args:
        store: where records are kept.
        objects: where bytes are kept (small files in packs).
        events: the activity log every write is recorded in.
        cache_path: the unchanged-file cache (under ``.flywheel/``).
        docs_dir: where data documents are written (``docs/`` of the workspace).
    """

    def __init__(
        self,
        store: DataStore,
        objects: DataObjects,
        *,
        events: EventLog,
        cache_path: Path,
        docs_dir: Path,
    ) -> None:
        super().__init__(store, objects, events=events)
        self._cache_path = cache_path
        self.docs_dir = docs_dir

    # -- adding ------------------------------------------------------------------------------

    def add(
        self,
        source: pd.DataFrame | str | os.PathLike[str],
        *,
        name: str,
        label: str | None = None,
        id: str | None = None,
        message: str = "",
        label_from_folder: bool = False,
        as_test_set: bool = False,
        link: bool = False,
        progress: Callable[[int], None] | None = None,
    ) -> DatasetVersion:
        """Add a new version of dataset ``name`` from a DataFrame, a table file or a folder.

        Tables (CSV, Parquet, JSONL, DataFrame) take labels from ``label`` and ids from ``id``
        (else a digest of each row). A folder (or a single non-table file) becomes a folder
        dataset; ``label_from_folder`` takes each file's label from its parent folder. When the
        content equals the newest version's, nothing is written and that version is returned.
        ``as_test_set`` makes ``name`` a named held-out test set (every item sealed).

        Raises:
            InvalidInputError: a bad name, missing columns, duplicate ids, unsafe paths.
            ConflictError: ``name`` exists with another kind of items or role.
            StorageFullError: the disk filled up; no version was recorded.
        """
        check_name(name)
        role: DatasetRole = "test_set" if as_test_set else "dataset"
        policy = self._store.get_split_policy() or self._store.set_split_policy(
            SplitPolicy(set_at=utc_now(), set_by=current_actor()), replace=False
        )
        existing = self._store.get_dataset(name)
        kind: DatasetKind = "files"
        path: Path | None = None
        if not isinstance(source, str | os.PathLike):
            kind = "table"
        else:
            path = Path(source)
            if not path.exists():
                raise NotFoundError(f"no such file or folder: {path}", hint="check the path")
            if path.is_file() and path.suffix.lower() in {".csv", ".parquet", ".pq", ".jsonl"}:
                kind = "table"
        if existing is not None and (existing.kind, existing.role) != (kind, role):
            raise ConflictError(
                f"dataset {name!r} holds {existing.kind} items as a {existing.role}; "
                f"this input gives {kind} items as a {role}",
                hint="add it under a new name",
            )
        if existing is not None:  # later versions keep the dataset's label and id settings
            label = label if label is not None else existing.label
            id = id if id is not None else existing.id_column
            label_from_folder = label_from_folder or (kind == "files" and bool(existing.label))
        latest = self._store.latest_version(name) if existing is not None else None
        parent = latest.digest if latest is not None else None
        built: tuple[dict[str, Any], dict[str, Any], int, int, FileCache | None]
        if kind == "table":
            built = self._build_table(source, path, name=name, label=label, id_column=id,
                                      policy=policy, test_set=as_test_set)  # fmt: skip
        else:
            assert path is not None
            files = self._build_files(path, name=name, label_from_folder=label_from_folder,
                                      policy=policy, test_set=as_test_set, link=link,
                                      progress=progress, latest=latest)  # fmt: skip
            if isinstance(files, DatasetVersion):
                return files
            built = files
            label = "label" if label_from_folder else None
            id = "item_id"
        manifest, facts, items, size, cache = built
        content = digest_bytes(encode_manifest(manifest))
        if latest is not None and latest.facts.get("content") == content:
            if cache is not None:
                cache.remember_tree(name, facts.get("signature"), latest.digest)
                cache.save()
            return latest
        manifest["parent"] = parent
        body = encode_manifest(manifest)
        self._objects.put_bytes(body)
        facts = {**facts, "content": content, "kind": kind, "label": label, "id_column": id}
        now = utc_now()
        version = self._store.create_version(
            Dataset(name, kind, role, label, id),
            DatasetVersion(
                digest=digest_bytes(body), dataset=name, number=0, parent=parent,
                message=message, author=current_actor(), created_at=now, items=items,
                size=size, facts=facts,
            ),
        )  # fmt: skip
        if cache is not None:
            cache.remember_tree(name, facts.get("signature"), version.digest)
            cache.save()
        self._events.record(
            stage="data",
            kind="version.created",
            subject=version.ref,
            detail={"digest": version.digest, "items": items, "message": message},
        )
        return version

    def _build_table(
        self,
        source: Any,
        path: Path | None,
        *,
        name: str,
        label: str | None,
        id_column: str | None,
        policy: SplitPolicy,
        test_set: bool,
    ) -> tuple[dict[str, Any], dict[str, Any], int, int, None]:
        frame = read_table(path) if path is not None else source
        prepared = prepare_table(
            frame, id_column=id_column, label=label, policy=policy, test_set=test_set
        )
        part = self._objects.put_bytes(prepared.parquet)
        manifest: dict[str, Any] = {
            "format": MANIFEST_FORMAT,
            "dataset": name,
            "kind": "table",
            "id_column": prepared.id_column,
            "label": label,
            "parts": [{"object": part, "rows": prepared.rows, "size": len(prepared.parquet)}],
        }
        source_fact = {"path": str(path.resolve()), "format": table_format(path)} if path else {
            "path": None, "format": "DataFrame"}  # fmt: skip
        facts = {**prepared.facts, "source": source_fact}
        return manifest, facts, prepared.rows, len(prepared.parquet), None

    def _build_files(
        self,
        path: Path,
        *,
        name: str,
        label_from_folder: bool,
        policy: SplitPolicy,
        test_set: bool,
        link: bool,
        progress: Callable[[int], None] | None,
        latest: DatasetVersion | None,
    ) -> tuple[dict[str, Any], dict[str, Any], int, int, FileCache] | DatasetVersion:
        files = scan_input(path)
        cache = FileCache(self._cache_path)
        options = folder_options(label_from_folder=label_from_folder, test_set=test_set,
                                 policy=policy)  # fmt: skip
        signature = stat_signature(files, options=options)
        if (
            latest is not None
            and signature is not None
            and cache.last_tree(name) == (signature, latest.digest)
        ):
            return latest
        digests = store_files(files, objects=self._objects, cache=cache, link=link,
                              progress=progress)  # fmt: skip
        items = folder_items(files, digests, label_from_folder=label_from_folder)
        tree = tree_digest(items, options=options)
        splits = ["test"] * len(items.ids) if test_set else assign_splits(items.ids, policy)
        manifest: dict[str, Any] = {
            "format": MANIFEST_FORMAT,
            "dataset": name,
            "kind": "files",
            "label": "label" if label_from_folder else None,
            "items": {
                "item_id": items.ids,
                "path": items.paths,
                "object": items.objects,
                "size": items.sizes,
                "label": items.labels,
                "split": splits,
            },
        }
        facts = {**folder_facts(items, splits), "tree": tree, "signature": signature,
                 "source": {"path": str(path.resolve()), "format": "files"}}  # fmt: skip
        return manifest, facts, len(items.ids), sum(items.sizes), cache

    def status(self, name: str, path: str | os.PathLike[str] | None = None) -> FolderChanges:
        """How a folder (by default the one last added) differs from the newest version.

        Stores nothing. Unchanged files are recognised by size, mtime and inode.

        Raises:
            NotFoundError: no such dataset or folder.
            InvalidInputError: ``name`` is a table dataset.
        """
        dataset = self.get_dataset(name)
        latest = self.get_version(f"{name}@latest")
        if dataset.kind != "files":
            raise InvalidInputError(
                f"{name!r} is a table dataset", hint="status compares folders of files"
            )
        source = Path(path) if path is not None else Path(latest.facts["source"]["path"])
        options = folder_options(
            label_from_folder=dataset.label is not None, test_set=dataset.role == "test_set",
            policy=self.split_policy(),
        )  # fmt: skip
        return folder_changes(
            latest, source, manifest=self.manifest, cache=FileCache(self._cache_path),
            options=options,
        )  # fmt: skip

    # -- split policy ------------------------------------------------------------------------

    def split_policy(self) -> SplitPolicy:
        """The project's split policy (the default 0.8/0.1/0.1, seed 13, until one is set)."""
        return self._store.get_split_policy() or SplitPolicy()

    def set_split_policy(self, *, train: float, val: float, test: float, seed: int) -> SplitPolicy:
        """Fix the project's split policy; it can change only while no dataset exists.

        Raises:
            InvalidInputError: fractions outside [0, 1] or not adding up to 1.
            ConflictError: data was added already under another policy.
        """
        policy = validate_policy(
            SplitPolicy(train, val, test, seed, set_at=utc_now(), set_by=current_actor())
        )
        replace = not self._store.list_datasets()
        saved = self._store.set_split_policy(policy, replace=replace)
        self._events.record(
            stage="data", kind="split_policy.set",
            subject=f"train {train} val {val} test {test} seed {seed}",
        )  # fmt: skip
        return saved

    # -- checks, slices, audit ----------------------------------------------------------------

    def check(self, ref: str) -> CheckReport:
        """Check a version against its parent's schema and facts; the result is recorded."""
        version = self.get_version(ref)
        parent = None
        if version.parent is not None:
            parent = next(
                (v for v in self.list_versions(version.dataset) if v.digest == version.parent),
                None,
            )
        findings = run_checks(
            version.facts, None if parent is None else parent.facts, leaked=self.leaked_items(ref)
        )
        report = CheckReport(version.ref, None if parent is None else parent.ref, findings)
        self._store.record_check(report, version=version.digest, at=utc_now())
        self._events.record(
            stage="data", kind="check.run", subject=version.ref,
            detail={"passed": report.passed, "findings": len(findings)},
        )  # fmt: skip
        return report

    def add_slice(self, dataset: str, name: str, *, where: str) -> DataSlice:
        """Save a named filter on ``dataset`` (replacing one of the same name).

        Raises:
            NotFoundError: no such dataset.
            InvalidInputError: the filter is invalid or names a column the dataset lacks.
        """
        check_name(name)
        latest = self._store.latest_version(dataset)
        if latest is None:
            raise NotFoundError(f"no dataset {dataset!r}", hint="see `flywheel data list`")
        columns = set(latest.facts.get("schema", {}).get("columns", {}))
        columns |= {str(latest.facts.get("id_column")), str(latest.facts.get("label"))}
        if latest.facts.get("kind") == "files":
            columns |= {"item_id", "path", "size", "label"}
        parse_where(where, columns=columns)
        data_slice = DataSlice(dataset, name, where.strip(), utc_now(), current_actor())
        self._store.put_slice(data_slice)
        self._events.record(stage="data", kind="slice.saved", subject=f"{dataset}/{name}")
        return data_slice

    def list_slices(self, dataset: str | None = None) -> list[DataSlice]:
        """Saved slices of a dataset (or of all), by name."""
        return self._store.list_slices(dataset)

    def slice_counts(self, ref: str, name: str) -> dict[str, int]:
        """How many items of each split the slice selects on version ``ref``."""
        version = self.get_version(ref)
        found = [s for s in self._store.list_slices(version.dataset) if s.name == name]
        if not found:
            raise NotFoundError(
                f"no slice {name!r} on {version.dataset!r}",
                hint=f"flywheel data slice add {version.dataset} {name} --where ...",
            )
        frame = self.load(version.digest, with_split=True)
        mask = evaluate(found[0].where, frame)
        chosen = frame.loc[mask, "__split__"].value_counts()
        return {s: int(chosen.get(s, 0)) for s in ("train", "val", "test")}

    def latest_or_none(self, name: str) -> DatasetVersion | None:
        """The newest version of dataset ``name``, or None when it has none."""
        return self._store.latest_version(check_name(name))

    def last_check(self, ref: str) -> dict[str, Any] | None:
        """Whether the newest ``check`` of a version passed, and when; None if never checked."""
        found = self._store.latest_check(self.get_version(ref).digest)
        return None if found is None else {"passed": found[0], "at": found[1]}

    def audit(self, *, dataset: str | None = None) -> list[SealedRead]:
        """Every recorded read of sealed test labels, oldest first."""
        return self._store.list_test_reads(dataset=dataset)

    def diff(self, old: str, new: str) -> VersionDiff:
        """Items added, removed, relabelled and changed from version ``old`` to ``new``."""
        a, b = self.get_version(old), self.get_version(new)
        before, after = self.item_index(a), self.item_index(b)
        added = sorted(k for k in after if k not in before)
        removed = sorted(k for k in before if k not in after)
        both = [k for k in after if k in before]
        relabelled = sorted(k for k in both if before[k][0] != after[k][0])
        changed = sorted(k for k in both if before[k][1] != after[k][1])
        return VersionDiff(a.ref, b.ref, tuple(added), tuple(removed), tuple(relabelled),
                           tuple(changed))  # fmt: skip

    # -- status ----------------------------------------------------------------------------

    def document_path(self, name: str) -> Path:
        """Where the data document of dataset ``name`` is written (Markdown)."""
        return self.docs_dir / f"data-{check_name(name)}.md"

    def deliverables(self) -> tuple[Deliverable, ...]:
        """Evidence for ``status``: versions, splits, the sealed test set, the data document."""
        return data_deliverables(self)
