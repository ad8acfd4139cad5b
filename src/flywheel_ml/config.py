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
=======================  ===========================  ==========================================
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from flywheel_ml.errors import InvalidInputError, WorkspaceNotFoundError

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

    @property
    def state_dir(self) -> Path:
        """The ``.flywheel`` folder: local database, objects, caches."""
        return self.root / STATE_DIR


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
