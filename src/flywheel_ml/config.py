"""Settings: the project file ``flywheel.toml`` and ``FLYWHEEL_*`` environment variables.

Resolution order for each setting: environment variable, then ``flywheel.toml``, then the embedded
default (SQLite and a local object folder inside ``.flywheel/``).

=======================  ===========================  ==========================================
variable                 flywheel.toml                meaning
=======================  ===========================  ==========================================
``FLYWHEEL_WORKSPACE``   —                            folder of the workspace (else walk up)
``FLYWHEEL_DB_URL``      ``[store] url``              SQLAlchemy URL of the database
``FLYWHEEL_BLOB_URL``    ``[store] blobs``            folder or fsspec URL of the object store
``FLYWHEEL_USER``        —                            who is acting (else the login name)
``FLYWHEEL_URL``         —                            a team server to use instead (REST)
``FLYWHEEL_TOKEN``       —                            the API token for ``FLYWHEEL_URL``
=======================  ===========================  ==========================================

Which workspace a command opens: a folder given explicitly (``-C``, ``open_workspace(path)``);
else the team server of ``FLYWHEEL_URL``; else the nearest ``flywheel.toml`` upwards; else the
server saved by ``flywheel login`` (in ``$XDG_CONFIG_HOME/flywheel/login.json``).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from flywheel_ml.errors import ConflictError, InvalidInputError, WorkspaceNotFoundError

PROJECT_FILE = "flywheel.toml"
STATE_DIR = ".flywheel"


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything needed to open a workspace.

    Attributes:
        root: the folder holding ``flywheel.toml``.
        name: the project's display name.
        db_url: SQLAlchemy URL of the database.
        blob_url: local folder or fsspec URL of the object store.
    """

    root: Path
    name: str
    db_url: str
    blob_url: str
    state_path: Path | None = None

    @property
    def state_dir(self) -> Path:
        """The ``.flywheel`` folder: local database, objects, caches (for a team server's
        client: its cache folder for that server)."""
        return self.state_path if self.state_path is not None else self.root / STATE_DIR


def find_root(start: Path | None = None) -> Path:
    """The workspace folder: ``FLYWHEEL_WORKSPACE``, else the nearest folder up with a project file.

    Raises:
        WorkspaceNotFoundError: no ``flywheel.toml`` in ``start`` or any parent.
    """
    if start is None:
        env = os.environ.get("FLYWHEEL_WORKSPACE", "").strip()
        start = Path(env) if env else Path.cwd()
        if env and not (start / PROJECT_FILE).is_file():
            raise WorkspaceNotFoundError(
                f"FLYWHEEL_WORKSPACE={env} has no {PROJECT_FILE}",
                hint="point it at a folder made by `flywheel init`, or unset it",
            )
    elif not start.is_dir():
        # Walking up from a mistyped -C folder would silently open the enclosing workspace.
        raise WorkspaceNotFoundError(
            f"{start} is not a folder", hint="pass -C the folder of a workspace"
        )
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / PROJECT_FILE).is_file():
            return folder
    raise WorkspaceNotFoundError(
        f"no Flywheel workspace in {start} or any parent folder",
        hint="run `flywheel init DIR --name NAME`, or pass -C DIR",
    )


def load_settings(root: Path) -> Settings:
    """Read ``root/flywheel.toml`` and the environment into :class:`Settings`.

    Raises:
        InvalidInputError: the project file is not valid TOML.
    """
    project_file = root / PROJECT_FILE
    try:
        doc = tomllib.loads(project_file.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInputError(
            f"{project_file} is not valid TOML: {exc}", hint="fix the file by hand"
        ) from exc
    project = doc.get("project", {})
    store = doc.get("store", {})
    name = str(project.get("name") or root.name)
    db_url = os.environ.get("FLYWHEEL_DB_URL", "").strip() or str(store.get("url") or "")
    blob_url = os.environ.get("FLYWHEEL_BLOB_URL", "").strip() or str(store.get("blobs") or "")
    state = root / STATE_DIR
    return Settings(
        root=root,
        name=name,
        db_url=db_url or f"sqlite:///{state / 'flywheel.db'}",
        blob_url=blob_url or str(state / "objects"),
    )


def create_project(root: Path, *, name: str) -> Callable[[], None]:
    """Write ``root/flywheel.toml`` and ``root/.flywheel/`` (making ``root`` when missing);
    returns a function that removes whatever this call created.

    Raises:
        ConflictError: ``root`` already holds a workspace.
        InvalidInputError: ``root`` is a file, or cannot be written.
    """
    project_file = root / PROJECT_FILE
    if project_file.exists():
        raise ConflictError(
            f"{root} already holds a Flywheel workspace",
            hint="open it (cd into it) or choose another folder",
        )
    if root.exists() and not root.is_dir():
        raise InvalidInputError(f"{root} is a file, not a folder", hint="choose a folder path")
    # The outermost folder this call creates (mkdir(parents=True) may make several).
    created_top = next((f for f in reversed((root, *root.parents)) if not f.exists()), None)
    state = root / STATE_DIR
    created_state = not state.exists()

    def undo() -> None:
        # Cleanup must not mask the cause (e.g. a parent of ``root`` that is a file).
        with contextlib.suppress(OSError):
            project_file.unlink(missing_ok=True)
        if created_state:
            shutil.rmtree(state, ignore_errors=True)
        if created_top is not None:
            shutil.rmtree(created_top, ignore_errors=True)

    try:
        state.mkdir(parents=True, exist_ok=True)
        (state / ".gitignore").write_text("*\n", encoding="utf-8")
        project_file.write_text(render_project_file(name), encoding="utf-8")
    except OSError as exc:
        undo()
        raise InvalidInputError(
            f"cannot create a workspace in {root}: {exc.strerror or exc}",
            hint="choose a folder you can write to",
        ) from exc
    return undo


def render_project_file(name: str) -> str:
    """The text of a new ``flywheel.toml``."""
    quoted = name.replace("\\", "\\\\").replace('"', '\\"')
    return (
        "# Flywheel project file. Commands find the workspace by walking up to this file.\n"
        "[project]\n"
        f'name = "{quoted}"\n'
        "\n"
        "[store]\n"
        "# Database URL; empty means SQLite in .flywheel/. FLYWHEEL_DB_URL overrides it.\n"
        '# url = "postgresql+psycopg://user@127.0.0.1:5432/flywheel"\n'
        "# Object store; empty means .flywheel/objects. FLYWHEEL_BLOB_URL overrides it.\n"
        '# blobs = "s3://bucket/flywheel"\n'
    )


@dataclass(frozen=True, slots=True)
class ServerLogin:
    """A team server to use and the token to use it with."""

    url: str
    token: str


def server_to_use(path: Path | None) -> ServerLogin | None:
    """The team server a command works on, or None for a local workspace.

    ``path`` is the workspace folder given explicitly (None when not given). The order is the
    one in the module docstring: an explicit folder or ``FLYWHEEL_WORKSPACE``, then
    ``FLYWHEEL_URL``, then a ``flywheel.toml`` upwards, then the saved login.
    """
    if path is not None or os.environ.get("FLYWHEEL_WORKSPACE", "").strip():
        return None
    login = env_login()
    if login is not None:
        return login
    try:
        find_root(None)
    except WorkspaceNotFoundError:
        return saved_login()
    return None


def login_for(server: str) -> ServerLogin:
    """The token this process has for ``server``: ``FLYWHEEL_URL``'s or the saved login's.

    Raises:
        InvalidInputError: neither names ``server``.
    """
    for login in (env_login(), saved_login()):
        if login is not None and login.url.rstrip("/") == server.rstrip("/"):
            return login
    raise InvalidInputError(
        f"this process has no token for {server}",
        hint="set FLYWHEEL_URL and FLYWHEEL_TOKEN, or run `flywheel login` on this machine",
    )


def login_file() -> Path:
    """Where ``flywheel login`` keeps the server and token (readable by the user only)."""
    base = os.environ.get("XDG_CONFIG_HOME", "").strip() or str(Path.home() / ".config")
    return Path(base) / "flywheel" / "login.json"


def env_login() -> ServerLogin | None:
    """The server named by ``FLYWHEEL_URL`` (with ``FLYWHEEL_TOKEN``), if set.

    Raises:
        InvalidInputError: ``FLYWHEEL_URL`` is set without ``FLYWHEEL_TOKEN``.
    """
    url = os.environ.get("FLYWHEEL_URL", "").strip()
    if not url:
        return None
    token = os.environ.get("FLYWHEEL_TOKEN", "").strip()
    if not token:
        raise InvalidInputError(
            "FLYWHEEL_URL is set but FLYWHEEL_TOKEN is not",
            hint="set FLYWHEEL_TOKEN to a token from `flywheel server token create`",
        )
    return ServerLogin(url=url, token=token)


def saved_login() -> ServerLogin | None:
    """The server saved by ``flywheel login``, or None."""
    path = login_file()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise InvalidInputError(
            f"{path} is unreadable: {exc}", hint="run `flywheel login` again"
        ) from exc
    if not isinstance(data, dict) or not data.get("url") or not data.get("token"):
        raise InvalidInputError(f"{path} lacks url or token", hint="run `flywheel login` again")
    return ServerLogin(url=str(data["url"]), token=str(data["token"]))


def save_login(login: ServerLogin) -> Path:
    """Keep ``login`` for later commands (replaced whole, mode 0600); returns the file."""
    path = login_file()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".login-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump({"url": login.url, "token": login.token}, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def forget_login() -> bool:
    """Delete the saved login; False when there was none."""
    try:
        login_file().unlink()
    except FileNotFoundError:
        return False
    return True
