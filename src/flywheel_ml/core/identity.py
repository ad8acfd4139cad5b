"""Who is acting: recorded with every change, audit record and annotation."""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

# getpass.getuser() reads these variables, then the password database (~50 us): its answer is
# kept for as long as they are unchanged.
_LOGIN_VARIABLES = ("LOGNAME", "USER", "LNAME", "USERNAME")
_LOGIN: dict[tuple[str | None, ...], str] = {}
# The team server runs each request's store call as the request's signed-in user.
_ACTING: ContextVar[str | None] = ContextVar("flywheel_acting_user", default=None)


@contextmanager
def acting_as(user: str) -> Iterator[None]:
    """Within the block (this thread or task only), :func:`current_actor` is ``user``."""
    token = _ACTING.set(user)
    try:
        yield
    finally:
        _ACTING.reset(token)


def current_actor() -> str:
    """The acting user: the user of :func:`acting_as` inside one, else ``FLYWHEEL_USER`` when
    set, else the login name, else ``unknown``."""
    acting = _ACTING.get()
    if acting is not None:
        return acting
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
