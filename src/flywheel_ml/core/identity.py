"""Who is acting: recorded with every change, audit record and annotation."""

from __future__ import annotations

import getpass
import os


def current_actor() -> str:
    """The acting user: ``FLYWHEEL_USER`` when set, else the login name, else ``unknown``."""
    explicit = os.environ.get("FLYWHEEL_USER", "").strip()
    if explicit:
        return explicit
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
