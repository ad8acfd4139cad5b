"""Who is acting: recorded with every change, audit record and annotation."""

from __future__ import annotations

import getpass
import os

# getpass.getuser() reads these variables, then the password database (~50 us): its answer is
# kept for as long as they are unchanged.
_LOGIN_VARIABLES = ("LOGNAME", "USER", "LNAME", "USERNAME")
_LOGIN: dict[tuple[str | None, ...], str] = {}


def current_actor() -> str:
    """The acting user: ``FLYWHEEL_USER`` when set, else the login name, else ``unknown``."""
    explicit = os.environ.get("FLYWHEEL_USER", "").strip()
    if explicit:
        return explicit
    key = tuple(os.environ.get(name) for name in _LOGIN_VARIABLES)
    login = _LOGIN.get(key)
    if login is None:
        try:
            login = getpass.getuser()
        except (KeyError, OSError):
            login = "unknown"
        _LOGIN[key] = login
    return login
