"""How a folder differs from a folder dataset's newest version (``flywheel data status``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flywheel_ml.core.digests import digest_file
from flywheel_ml.data.entities import DatasetVersion, SplitPolicy
from flywheel_ml.data.filecache import FileCache, stat_signature
from flywheel_ml.data.readers import scan_input


@dataclass(frozen=True, slots=True)
class FolderChanges:
    """Paths added, removed and modified in a folder since version ``version``."""

    version: str
    path: str
    added: tuple[str, ...]
    removed: tuple[str, ...]
    modified: tuple[str, ...]

    @property
    def unchanged(self) -> bool:
        """Whether the folder holds exactly the version's files."""
        return not (self.added or self.removed or self.modified)


def folder_options(*, label_from_folder: bool, test_set: bool, policy: SplitPolicy) -> str:
    """The add options that, with the files, decide a folder version's content."""
    return f"{label_from_folder}|{test_set}|{policy.train}|{policy.val}|{policy.seed}"


def folder_changes(
    latest: DatasetVersion,
    path: Path,
    *,
    manifest: Callable[[DatasetVersion], Mapping[str, Any]],
    cache: FileCache,
    options: str,
) -> FolderChanges:
    """Compare the files under ``path`` with ``latest``; unchanged stats skip all hashing.

    ``options`` is :func:`folder_options` of the dataset; ``manifest`` reads a version's
    manifest and is called only when some file's stats changed.
    """
    files = scan_input(path)
    signature = stat_signature(files, options=options)
    if signature is not None and cache.last_tree(latest.dataset) == (signature, latest.digest):
        return FolderChanges(latest.ref, str(path), (), (), ())
    items = manifest(latest)["items"]
    stored = dict(zip(items["path"], items["object"], strict=True))
    current = {f.relpath: f for f in files}
    added = tuple(p for p in current if p not in stored)
    removed = tuple(p for p in stored if p not in current)
    modified = tuple(
        p
        for p, f in current.items()
        if p in stored and (cache.lookup(f) or digest_file(f.path)) != stored[p]
    )
    return FolderChanges(latest.ref, str(path), added, removed, modified)
