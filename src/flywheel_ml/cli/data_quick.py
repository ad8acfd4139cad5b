"""The fast path of ``flywheel data status`` and of a no-op ``flywheel data add``.

Run before Typer, Rich and SQLAlchemy are imported (together ~0.35 s of start-up): on a SQLite
workspace it reads the dataset's newest version with the stdlib driver, scans the folder and
compares its stat signature with the one recorded by the last add (the unchanged-file cache).
It answers only when the answer is certain and would print exactly what the full command prints:

- ``data status NAME [PATH]``: always (changed files are found through the cache and the
  version's manifest, the same comparison as :meth:`DataStage.status`);
- ``data add PATH --name NAME``: only when nothing changed since the newest version, which
  writes nothing; any add that has work to do takes the full path.

Anything else (PostgreSQL, a remote object store, an unknown option, a missing dataset, a bad
path, text Rich would render differently) returns False and the full command runs and reports.
``FLYWHEEL_NO_FAST_PATH=1`` turns the fast path off (tests compare both paths with it).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flywheel_ml.backends.sql.sqlite_peek import DatasetPeek
    from flywheel_ml.data.entities import DatasetVersion

_TABLE_SUFFIXES = (".csv", ".parquet", ".pq", ".jsonl")  # these make `data add` a table add
_VALUE_OPTIONS = {"--name": "name", "-m": "message", "--message": "message",
                  "--as-test-set": "as_test_set"}  # fmt: skip
_FLAG_OPTIONS = {"--label-from-folder": "label_from_folder", "--link": "link"}


def version_json(v: DatasetVersion) -> dict[str, Any]:
    """A version as JSON data (the ``--json`` form of ``data add``, ``list`` and ``versions``)."""
    return {
        "ref": v.ref,
        "dataset": v.dataset,
        "number": v.number,
        "digest": v.digest,
        "parent": v.parent,
        "items": v.items,
        "size": v.size,
        "message": v.message,
        "author": v.author,
        "created_at": v.created_at,
    }


def answer(args: list[str], *, json_output: bool) -> bool:
    """Print the answer to ``args`` (the command line after global flags) and return True, or
    return False (having printed nothing) when the full command must run."""
    if os.environ.get("FLYWHEEL_NO_FAST_PATH", "").strip() not in ("", "0"):
        return False
    workspace: str | None = None
    if args[:1] in (["-C"], ["--workspace"]) and len(args) > 2:
        workspace, args = args[1], args[2:]
    if args[:2] == ["data", "status"] and 3 <= len(args) <= 4:
        if any(a.startswith("-") for a in args[2:]):
            return False
        return _status(args[2], args[3] if len(args) == 4 else None, workspace, json_output)
    if args[:2] == ["data", "add"]:
        parsed = _parse_add(args[2:])
        return parsed is not None and _noop_add(parsed, workspace, json_output)
    return False


def _parse_add(words: list[str]) -> dict[str, Any] | None:
    found: dict[str, Any] = {"message": "", "label_from_folder": False, "link": False}
    sources: list[str] = []
    index = 0
    while index < len(words):
        word = words[index]
        if word in _VALUE_OPTIONS and index + 1 < len(words):
            found[_VALUE_OPTIONS[word]] = words[index + 1]
            index += 2
            continue
        if word in _FLAG_OPTIONS:
            found[_FLAG_OPTIONS[word]] = True
        elif word.startswith("-"):
            return None  # --label, --id, --help, --name=x ...: the full command handles them
        else:
            sources.append(word)
        index += 1
    found["name"] = found.get("as_test_set") or found.get("name")
    if len(sources) != 1 or not found["name"]:
        return None
    found["source"] = sources[0]
    return found


def _peek(workspace: str | None, name: str) -> tuple[DatasetPeek, Path] | None:
    """The dataset's rows and the workspace's state folder, on a local SQLite workspace."""
    from flywheel_ml.backends.sql.sqlite_peek import peek_dataset, sqlite_file
    from flywheel_ml.config import find_root, load_settings
    from flywheel_ml.data.versions import check_name
    from flywheel_ml.errors import FlywheelError

    try:
        check_name(name)
        settings = load_settings(find_root(None if workspace is None else Path(workspace)))
    except FlywheelError:
        return None
    db_file = sqlite_file(settings.db_url)
    if db_file is None:
        return None
    peek = peek_dataset(db_file, name)
    if peek is None or peek.dataset.kind != "files":
        return None
    return peek, settings.state_dir


def _status(name: str, path_arg: str | None, workspace: str | None, json_output: bool) -> bool:
    from flywheel_ml.backends.blobs import open_object_store
    from flywheel_ml.config import load_settings
    from flywheel_ml.data.changes import folder_changes, folder_options
    from flywheel_ml.data.filecache import CACHE_FILE, FileCache
    from flywheel_ml.data.versions import decode_manifest
    from flywheel_ml.errors import FlywheelError

    found = _peek(workspace, name)
    if found is None:
        return False
    peek, state_dir = found
    blob_url = load_settings(state_dir.parent).blob_url
    if "://" in blob_url and not blob_url.startswith("file://"):
        return False  # a remote object store: the full path verifies downloads
    options = folder_options(
        label_from_folder=peek.dataset.label is not None,
        test_set=peek.dataset.role == "test_set",
        policy=peek.policy,
    )
    source = Path(path_arg) if path_arg is not None else Path(peek.latest.facts["source"]["path"])

    def manifest(version: DatasetVersion) -> dict[str, Any]:
        return decode_manifest(open_object_store(blob_url).get_bytes(version.digest))

    try:
        cache = FileCache(state_dir / CACHE_FILE)
        changes = folder_changes(peek.latest, source, manifest=manifest, cache=cache,
                                 options=options)  # fmt: skip
    except (FlywheelError, OSError):
        return False  # e.g. a packed manifest or a vanished folder: the full path decides
    data = {
        "version": changes.version, "path": changes.path, "unchanged": changes.unchanged,
        "added": list(changes.added), "removed": list(changes.removed),
        "modified": list(changes.modified),
    }  # fmt: skip
    if changes.unchanged:
        lines = [f"{changes.path} matches {changes.version}."]
    else:
        lines = [
            f"{what}: {p}"
            for what in ("added", "removed", "modified")
            for p in getattr(changes, what)[:20]
        ]
        lines.append(f"{len(changes.added)} added, {len(changes.removed)} removed, "
                     f"{len(changes.modified)} modified since {changes.version}.")  # fmt: skip
    return _emit(data, lines, json_output)


def _noop_add(parsed: dict[str, Any], workspace: str | None, json_output: bool) -> bool:
    from flywheel_ml.data.changes import folder_options
    from flywheel_ml.data.filecache import CACHE_FILE, FileCache, stat_signature
    from flywheel_ml.data.readers import hand_on, scan_input
    from flywheel_ml.errors import FlywheelError

    found = _peek(workspace, parsed["name"])
    if found is None:
        return False
    peek, state_dir = found
    test_set = parsed.get("as_test_set") is not None
    path = Path(parsed["source"])
    if peek.dataset.role != ("test_set" if test_set else "dataset"):
        return False
    if not path.exists() or (path.is_file() and path.suffix.lower() in _TABLE_SUFFIXES):
        return False
    options = folder_options(
        label_from_folder=parsed["label_from_folder"] or bool(peek.dataset.label),
        test_set=test_set,
        policy=peek.policy,
    )
    try:
        files = scan_input(path)
    except (FlywheelError, OSError):
        return False
    signature = stat_signature(files, options=options)
    latest = peek.latest
    if signature is None or FileCache(state_dir / CACHE_FILE).last_tree(latest.dataset) != (
        signature,
        latest.digest,
    ):
        hand_on(path, files)  # the full add runs next: it need not scan again
        return False
    data = {**version_json(latest), "unchanged": True}
    return _emit(data, [f"{latest.ref} unchanged ({latest.items:,} items)."], json_output)


def _emit(data: dict[str, Any], lines: list[str], json_output: bool) -> bool:
    """Print like :func:`flywheel_ml.cli.context.emit`; False when Rich would alter the text."""
    import orjson

    if json_output:
        body = orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS, default=str)
        sys.stdout.buffer.write(body + b"\n")
        sys.stdout.flush()
        return True
    # Rich reads "[...]" as markup and ":name:" as an emoji code; plain print would differ.
    for line in lines:
        label, sep, rest = line.partition(": ")
        shown = rest if sep and label in ("added", "removed", "modified") else line
        if "[" in shown or ":" in shown:
            return False
    sys.stdout.write("".join(line + "\n" for line in lines))
    sys.stdout.flush()
    return True
