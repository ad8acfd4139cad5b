"""The fast path of ``flywheel data status`` and of ``flywheel data add`` of a folder.

Run before Typer, Rich and SQLAlchemy are imported (together ~0.35 s of start-up): on a SQLite
workspace it reads the dataset's newest version with the stdlib driver, scans the folder and
compares its stat signature with the one recorded by the last add (the unchanged-file cache).
It answers only when the answer is certain and would print exactly what the full command prints:

- ``data status NAME [PATH]``: always (changed files are found through the cache and the
  version's manifest, the same comparison as :meth:`DataStage.status`);
- ``data add PATH --name NAME`` of a folder: to an existing folder dataset, when nothing changed
  since the newest version, from the cache alone (nothing is written); otherwise, and for the
  first add of a new dataset, by running the same :meth:`DataStage.add
  <flywheel_ml.data.stage.DataStage.add>` as the full command, on stores that use the stdlib
  ``sqlite3`` driver (``backends/sql/sqlite_stdlib.py``).

Anything else (PostgreSQL, a remote object store, a schema at another revision, a table input,
a name taken by a table dataset, an unknown option, a bad path, text Rich would render
differently) returns False
having written nothing, and the full command runs and reports. Once an add has started, its
errors are the full command's: :mod:`flywheel_ml.cli.main` reports them the same way.
``FLYWHEEL_NO_FAST_PATH=1`` turns the fast path off (tests compare both paths with it).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flywheel_ml.backends.sql.sqlite_peek import DatasetPeek
    from flywheel_ml.config import Settings
    from flywheel_ml.data.entities import DatasetVersion
    from flywheel_ml.data.stage import DataStage

_TABLE_SUFFIXES = (".csv", ".parquet", ".pq", ".jsonl")  # these make `data add` a table add
_VALUE_OPTIONS = {"--name": "name", "-m": "message", "--message": "message",
                  "--as-test-set": "as_test_set"}  # fmt: skip
_FLAG_OPTIONS = {"--label-from-folder": "label_from_folder", "--link": "link"}
# What Rich's console would not print as is: markup tags, ":name:" emoji codes (its own
# patterns in rich/markup.py and rich/_emoji_replace.py, loosened to catch every candidate) and
# control characters (tabs are expanded, others dropped).
_RICH_SPECIAL = re.compile(r"\[|:\S*:|[\x00-\x1f\x7f]")


def add_message(version: DatasetVersion, *, unchanged: bool) -> str:
    """The line ``data add`` prints for the version it added (or found unchanged)."""
    if unchanged:
        return f"{version.ref} unchanged ({version.items:,} items)."
    return f"Added {version.ref} ({version.short}): {version.items:,} items."


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
        return parsed is not None and _add(parsed, workspace, json_output)
    if args[:2] == ["data", "export"]:
        from flywheel_ml.cli.data_quick_export import export

        return export(args[2:], workspace=workspace, json_output=json_output)
    return False


def parse_words(
    words: list[str], *, values: dict[str, str], flags: dict[str, str]
) -> tuple[dict[str, Any], list[str]] | None:
    """The options (``values`` take the next word, ``flags`` are True) and the other words of
    a command line; None for any other option (``--help``, ``--name=x``, ...), which only the
    full command handles."""
    found: dict[str, Any] = {}
    words_left: list[str] = []
    index = 0
    while index < len(words):
        word = words[index]
        if word in values and index + 1 < len(words):
            found[values[word]] = words[index + 1]
            index += 2
            continue
        if word in flags:
            found[flags[word]] = True
        elif word.startswith("-"):
            return None
        else:
            words_left.append(word)
        index += 1
    return found, words_left


def _parse_add(words: list[str]) -> dict[str, Any] | None:
    parsed = parse_words(words, values=_VALUE_OPTIONS, flags=_FLAG_OPTIONS)
    if parsed is None:
        return None
    found: dict[str, Any] = {"message": "", "label_from_folder": False, "link": False}
    found.update(parsed[0])
    found["name"] = found.get("as_test_set") or found.get("name")
    if len(parsed[1]) != 1 or not found["name"]:
        return None
    found["source"] = parsed[1][0]
    return found


def local_settings(workspace: str | None, name: str | None = None) -> Settings | None:
    """The settings of a workspace on a local SQLite file (when ``name`` is a valid name)."""
    from flywheel_ml.backends.sql.sqlite_peek import sqlite_file
    from flywheel_ml.config import find_root, load_settings
    from flywheel_ml.data.versions import check_name
    from flywheel_ml.errors import FlywheelError

    try:
        if name is not None:
            check_name(name)
        settings = load_settings(find_root(None if workspace is None else Path(workspace)))
    except FlywheelError:
        return None
    return settings if sqlite_file(settings.db_url) is not None else None


def _peek(workspace: str | None, name: str) -> tuple[DatasetPeek, Settings] | None:
    """The dataset's rows and the workspace's settings, on a local SQLite workspace."""
    from flywheel_ml.backends.sql.sqlite_peek import peek_dataset, sqlite_file

    settings = local_settings(workspace, name)
    db_file = None if settings is None else sqlite_file(settings.db_url)
    if settings is None or db_file is None:
        return None
    peek = peek_dataset(db_file, name)
    if peek is None or peek.dataset.kind != "files":
        return None
    return peek, settings


def _remote(blob_url: str) -> bool:
    """Whether the object store is not a local folder (the full path verifies downloads)."""
    return "://" in blob_url and not blob_url.startswith("file://")


def _status(name: str, path_arg: str | None, workspace: str | None, json_output: bool) -> bool:
    from flywheel_ml.backends.blobs import open_object_store
    from flywheel_ml.data.changes import folder_changes, folder_options
    from flywheel_ml.data.filecache import CACHE_FILE, FileCache
    from flywheel_ml.data.versions import decode_manifest
    from flywheel_ml.errors import FlywheelError

    found = _peek(workspace, name)
    if found is None:
        return False
    peek, settings = found
    blob_url = settings.blob_url
    if _remote(blob_url):
        return False
    options = folder_options(
        label_from_folder=peek.dataset.label is not None,
        test_set=peek.dataset.role == "test_set",
        policy=peek.policy,
    )
    source = Path(path_arg) if path_arg is not None else Path(peek.latest.facts["source"]["path"])

    def manifest(version: DatasetVersion) -> dict[str, Any]:
        return decode_manifest(open_object_store(blob_url).get_bytes(version.digest))

    try:
        cache = FileCache(settings.state_dir / CACHE_FILE)
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


def _add(parsed: dict[str, Any], workspace: str | None, json_output: bool) -> bool:
    """``data add`` of a folder: a new folder dataset, or one of the same role (see module)."""
    from flywheel_ml.data.changes import folder_options
    from flywheel_ml.data.filecache import CACHE_FILE, FileCache, stat_signature
    from flywheel_ml.data.readers import hand_on, scan_input
    from flywheel_ml.errors import FlywheelError

    path = Path(parsed["source"])
    if not path.exists() or (path.is_file() and path.suffix.lower() in _TABLE_SUFFIXES):
        return False
    found = _peek(workspace, parsed["name"])
    if found is None:
        # No such folder dataset yet (or nothing the peek can read): a first add, when the
        # dataset is indeed absent; _add_version checks that before writing anything.
        settings = local_settings(workspace, parsed["name"])
        return settings is not None and _add_version(
            parsed, path, settings, json_output, first=True
        )
    peek, settings = found
    test_set = parsed.get("as_test_set") is not None
    if peek.dataset.role != ("test_set" if test_set else "dataset"):
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
    cache = FileCache(settings.state_dir / CACHE_FILE)
    if signature is not None and cache.last_tree(latest.dataset) == (signature, latest.digest):
        data = {**version_json(latest), "unchanged": True}
        return _emit(data, [add_message(latest, unchanged=True)], json_output)
    hand_on(path, files)  # the add that runs next (here or in the full path) need not scan again
    return _add_version(parsed, path, settings, json_output)


def _add_version(
    parsed: dict[str, Any], path: Path, settings: Settings, json_output: bool, *,
    first: bool = False,
) -> bool:  # fmt: skip
    """Run :meth:`DataStage.add` on stdlib stores and print what ``add_command`` prints.

    False (nothing written) when the stores cannot be opened as the full path would open them,
    or, for the ``first`` add of a dataset, when a dataset of that name exists after all.
    Once the add runs, its errors propagate like the full command's (``cli.main`` reports a
    FlywheelError the same way): falling back then would run the add a second time.
    """
    name = parsed["name"]
    with stdlib_stage(settings) as stage:
        if stage is None:
            return False
        if first and any(d.name == name for d in stage.list_datasets()):
            return False  # e.g. a table dataset of that name: the full command reports it
        with _progress_when_slow(json_output) as advance:
            before = stage.latest_or_none(name)
            version = stage.add(
                path, name=name, message=parsed["message"],
                label_from_folder=parsed["label_from_folder"],
                as_test_set=parsed.get("as_test_set") is not None, link=parsed["link"],
                progress=advance,
            )  # fmt: skip
    unchanged = before is not None and before.digest == version.digest
    data = {**version_json(version), "unchanged": unchanged}
    return emit_owed(data, add_message(version, unchanged=unchanged), json_output)


def emit_owed(data: dict[str, Any], line: str, json_output: bool) -> bool:
    """Print the answer of a command that has written: as :func:`_emit`, or through Rich when
    Rich would render ``line`` differently (the write happened, so the answer is owed)."""
    if not _emit(data, [line], json_output):
        from flywheel_ml.cli.context import console

        console().print(line)
    return True


@contextmanager
def stdlib_stage(settings: Settings) -> Iterator[DataStage | None]:
    """The data stage of the workspace on stdlib ``sqlite3`` stores, wired as
    ``Workspace.data`` wires it (its load listener only matters to loads); None when the stores
    cannot be opened as the full path would open them (then nothing was written)."""
    from flywheel_ml.backends.sql.revisions import head_revision
    from flywheel_ml.backends.sql.sqlite_peek import sqlite_file
    from flywheel_ml.backends.sql.sqlite_stdlib import StdlibSqlite, StdlibStores
    from flywheel_ml.data.filecache import CACHE_FILE
    from flywheel_ml.data.stage import DataStage
    from flywheel_ml.errors import FlywheelError

    db_file = sqlite_file(settings.db_url)
    if db_file is None or _remote(settings.blob_url):
        yield None
        return
    try:
        database = StdlibSqlite(db_file)
    except FlywheelError:
        yield None
        return
    try:
        # The full path would migrate an older schema first, and refuse a newer one.
        if database.revision() != head_revision():
            yield None
            return
        stores = StdlibStores(database, blob_url=settings.blob_url)
        yield DataStage(
            stores.store("data"),
            stores.data_objects,
            events=stores.store("events"),
            cache_path=settings.state_dir / CACHE_FILE,
            docs_dir=settings.root / "docs",
        )
    finally:
        database.close()


@contextmanager
def _progress_when_slow(json_output: bool) -> Iterator[Callable[[int], None] | None]:
    """The progress callback of the add: a bar like the full command's, started lazily.

    The full command shows a transient Rich bar on a terminal (never under ``--json`` or when
    piped) for the whole add. Here the bar starts at the add's first progress report, which
    ``store_files`` makes after each big file and each chunk of small files once 1000 of them
    were read: a re-add with a few changed files (the common case, and what this fast path is
    for) is over before a bar would tell anything, and does not pay ~0.1 s to import Rich; a big
    add shows the same bar as the full command after its first chunk, when Rich's import is
    small against the add's duration.
    """
    if json_output or not sys.stderr.isatty():
        yield None
        return
    with ExitStack() as stack:
        bar: list[Callable[[int], None]] = []

        def advance(completed: int) -> None:
            if not bar:
                from flywheel_ml.cli.context import progress

                bar.append(stack.enter_context(progress("adding files")))
            bar[0](completed)

        yield advance


def _emit(data: dict[str, Any], lines: list[str], json_output: bool) -> bool:
    """Print like :func:`flywheel_ml.cli.context.emit`; False when Rich would alter the text."""
    import orjson

    if json_output:
        body = orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS, default=str)
        sys.stdout.buffer.write(body + b"\n")
        sys.stdout.flush()
        return True
    # Rich would render these lines differently from a plain print (see _RICH_SPECIAL).
    if any(_RICH_SPECIAL.search(line) for line in lines):
        return False
    sys.stdout.write("".join(line + "\n" for line in lines))
    sys.stdout.flush()
    return True
