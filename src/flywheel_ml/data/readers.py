"""Inputs: tables from CSV, Parquet and JSONL files, and folders of files of any kind.

Folder scanning never follows a path out of the input folder: a symlink whose target lies outside
it is refused, and stored paths are always relative, in POSIX form, without ``..`` parts.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, NamedTuple

from flywheel_ml.errors import InvalidInputError, NotFoundError

if TYPE_CHECKING:
    import pandas as pd

native: ModuleType | None
"""The C fast path (``_folderio.c``), built at install time; None where it could not be built,
and the Python code here does it all."""
try:
    from flywheel_ml.data import _folderio as native
except ImportError:  # pragma: no cover - installs without a C compiler
    native = None

TABLE_SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl"}


class ScannedFile(NamedTuple):
    """One file found in an input folder, with what the unchanged-file cache compares.

    A named tuple rather than a dataclass: a scan makes one per file, and tuples are built
    several times faster.
    """

    relpath: str
    path: str
    size: int
    mtime_ns: int
    inode: int


def table_format(path: Path) -> str:
    """``csv``, ``parquet`` or ``jsonl`` from the file name.

    Raises:
        InvalidInputError: the suffix is none of them.
    """
    fmt = TABLE_SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise InvalidInputError(
            f"cannot read {path.name}: unknown table format {path.suffix or '(no suffix)'}",
            hint="give a .csv, .parquet or .jsonl file, or a folder of files",
        )
    return fmt


def read_table(path: Path) -> pd.DataFrame:
    """The rows of a CSV, Parquet or JSONL file.

    Raises:
        NotFoundError: the file does not exist.
        InvalidInputError: the file is not a readable table of its format.
    """
    import pandas as pd

    fmt = table_format(path)
    if not path.is_file():
        raise NotFoundError(f"no such file: {path}", hint="check the path")
    try:
        if fmt == "csv":
            return pd.read_csv(path)
        if fmt == "parquet":
            return pd.read_parquet(path)
        return pd.read_json(path, lines=True)
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InvalidInputError(
            f"cannot read {path.name} as {fmt}: {first}",
            hint=f"check that the file is valid {fmt}",
        ) from exc


def scan_folder(root: Path) -> list[ScannedFile]:
    """Every regular file under ``root``, sorted by relative path.

    Hidden files and folders (names starting with ``.``) are skipped. A symlink is followed only
    when its target stays inside ``root``.

    Raises:
        NotFoundError: ``root`` is not a folder.
        InvalidInputError: a symlink points outside ``root``, or a name is not valid UTF-8.
    """
    if not root.is_dir():
        raise NotFoundError(f"no such folder: {root}", hint="check the path")
    if native is not None:
        # The C scan answers the common case (regular files, UTF-8 names) 2-3x faster and
        # returns None for anything else: symlinks, bad names and errors are decided below.
        scanned: list[ScannedFile] | None = native.scan(str(root), ScannedFile)
        if scanned is not None:
            return scanned
    return scan_folder_python(root)


def scan_folder_python(root: Path) -> list[ScannedFile]:
    """:func:`scan_folder` in Python only: the reference for the C scan, and its fallback."""
    real_root = root.resolve()
    found: list[ScannedFile] = []
    append = found.append
    stack = [(str(root), "")]
    while stack:
        folder, prefix = stack.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                name = entry.name
                if name[0] == ".":
                    continue
                rel = prefix + name
                if not rel.isascii():
                    _check_name(rel)
                # Regular files first: the common case costs one d_type test and one lstat.
                if entry.is_file(follow_symlinks=False):
                    st = entry.stat(follow_symlinks=False)
                    append(ScannedFile(rel, entry.path, st.st_size, st.st_mtime_ns, st.st_ino))
                elif entry.is_dir(follow_symlinks=False):
                    stack.append((entry.path, rel + "/"))
                elif entry.is_symlink():
                    append(_linked_file(entry.path, rel, real_root))
    found.sort()  # by relpath, the first field
    return found


def _linked_file(path: str, rel: str, real_root: Path) -> ScannedFile:
    """The file a symlink inside the folder points to (with inode 0, as links have no own)."""
    target = Path(path).resolve()
    if not target.is_relative_to(real_root):
        raise InvalidInputError(
            f"{rel} is a symlink to {target}, outside the input folder",
            hint="copy the file into the folder or remove the link",
        )
    st = target.stat()
    if stat.S_ISDIR(st.st_mode):
        raise InvalidInputError(
            f"{rel} is a symlink to a folder",
            hint="link files, not folders, or copy the folder in",
        )
    return ScannedFile(rel, str(target), st.st_size, st.st_mtime_ns, 0)


_HANDED_ON: dict[str, list[ScannedFile]] = {}


def hand_on(path: Path, files: list[ScannedFile]) -> None:
    """Give the scan ``files`` of ``path`` to the next :func:`scan_input` of it, once.

    The CLI's fast path scans to see whether an add is a no-op; when it is not, the full add
    that runs next in the same process need not stat every file again. That is safe: the
    unchanged-file cache trusts a file only when its stats match and are not racy, and a file
    changed since this scan is hashed from its bytes as they are when read.
    """
    _HANDED_ON[os.path.abspath(path)] = files


def scan_input(path: Path) -> list[ScannedFile]:
    """The files of a folder input, or the one file when ``path`` is a regular file.

    Raises:
        NotFoundError: nothing at ``path``.
        InvalidInputError: an empty folder, or the reasons of :func:`scan_folder`.
    """
    # Absolute paths: they key the unchanged-file cache, whatever folder the add ran from.
    key = os.path.abspath(path)
    handed_on = _HANDED_ON.pop(key, None)
    return handed_on if handed_on is not None else _scan(Path(key))


def _scan(path: Path) -> list[ScannedFile]:
    if path.is_dir():
        files = scan_folder(path)
    elif path.is_file() and not path.is_symlink():
        st = path.stat()
        files = [ScannedFile(path.name, str(path), st.st_size, st.st_mtime_ns, st.st_ino)]
    else:
        raise NotFoundError(f"no such file or folder: {path}", hint="check the path")
    if not files:
        raise InvalidInputError(f"{path} holds no files", hint="add a folder with files")
    return files


def _check_name(rel: str) -> None:
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInputError(
            f"file name {rel!r} is not valid UTF-8", hint="rename the file"
        ) from None


def check_relpath(rel: str) -> str:
    """``rel`` when it is a relative POSIX path that cannot leave the folder it is joined to.

    Raises:
        InvalidInputError: ``rel`` is absolute, empty, or has ``..``, ``.``, empty, NUL or
            backslash parts.
    """
    if (
        not rel
        or rel[0] == "/"
        or "\x00" in rel
        or "\\" in rel
        or any(part in {"..", ".", ""} for part in rel.split("/"))
    ):
        raise InvalidInputError(
            f"unsafe item path {rel!r} in the dataset",
            hint="item paths must be relative and may not contain '..'",
        )
    return rel
