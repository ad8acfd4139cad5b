"""The rules for metric, parameter and tag names and values: checked before anything is written.

Names are 1-250 characters of letters, digits, ``_``, ``-`` and ``.``, starting with a letter or
``_``. Path characters (``/``, ``\\``) and ``..`` are refused so that a name is always safe in a
file name, a URL and the filter grammar. Parameter values are JSON scalars whose text is at most
6,000 characters (MLflow's limit); tag values at most 5,000 characters.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
from collections.abc import Mapping
from json.encoder import encode_basestring_ascii as _json_string
from typing import NoReturn

from flywheel_ml.errors import InvalidInputError
from flywheel_ml.track.entities import ParamValue

_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]{0,249}")
MAX_PARAM_CHARS = 6_000
MAX_TAG_CHARS = 5_000
MAX_RUN_NAME = 200


def check_name(name: str, *, what: str = "metric") -> str:
    """Return ``name`` when it is a valid metric/param/tag name.

    Raises:
        InvalidInputError: empty, too long, or holding characters other than letters, digits,
            ``_ - .`` (path characters such as ``/`` in particular), or ``..``.
    """
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name) or ".." in name:
        shown = repr(name)[:80]
        raise InvalidInputError(
            f"invalid {what} name {shown}",
            hint="use 1-250 letters, digits, '_', '-' or '.', starting with a letter or '_' "
            "(no '/' or '\\'), e.g. 'val_loss' or 'val.loss'",
        )
    return name


def param_text(key: str, value: object) -> tuple[str, float | None]:
    """The stored JSON text of a parameter value and its number (None when not a number).

    Lists, tuples and dicts are kept as JSON text; anything else that is not a JSON scalar is
    stored as its ``str()``.

    Raises:
        InvalidInputError: the text is longer than 6,000 characters, or the value is a
            non-finite float.
    """
    num: float | None = None
    if type(value) is str:
        # The common case (values from a command line or a config): no json.dumps call.
        text = _json_string(value)
        if len(text) > MAX_PARAM_CHARS:
            _too_long(key, text)
        try:
            parsed = float(value)
        except ValueError:
            return text, None
        return text, parsed if math.isfinite(parsed) else None
    if isinstance(value, bool):
        num = float(value)
        scalar: ParamValue = value
    elif isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidInputError(
                f"parameter {key!r} is {value}", hint="parameters must be finite numbers or text"
            )
        num = float(value)
        scalar = value
    elif value is None:
        scalar = value
    elif isinstance(value, str):
        scalar = value
        # A number given as text ("0.1" from a command line) still compares as a number.
        with contextlib.suppress(ValueError):
            parsed = float(value)
            num = parsed if math.isfinite(parsed) else None
    elif isinstance(value, list | tuple | dict):
        scalar = _json_or_str(value)
    else:
        scalar = _number_or_str(value)
        if isinstance(scalar, float):
            num = scalar
    text = json.dumps(scalar)
    if len(text) > MAX_PARAM_CHARS:
        _too_long(key, text)
    return text, num


def _too_long(key: str, text: str) -> NoReturn:
    raise InvalidInputError(
        f"parameter {key!r} is {len(text):,} characters long (limit {MAX_PARAM_CHARS:,})",
        hint="log large values as a file with run.log_artifact(path) instead",
    )


def _json_or_str(value: object) -> str:
    try:
        return json.dumps(value, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return str(value)


def _number_or_str(value: object) -> float | str:
    # numpy scalars and similar: keep numbers as numbers so filters can compare them.
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(value)
    return number if math.isfinite(number) and not isinstance(value, str) else str(value)


def check_params(params: Mapping[str, object]) -> dict[str, tuple[str, float | None]]:
    """Validate every parameter: names and values; returns name -> (JSON text, number)."""
    return {check_name(k, what="parameter"): param_text(k, v) for k, v in params.items()}


def check_tags(tags: Mapping[str, object]) -> dict[str, str]:
    """Validate every tag: names and values (values become strings).

    Raises:
        InvalidInputError: a bad name or a value longer than 5,000 characters.
    """
    checked: dict[str, str] = {}
    for key, value in tags.items():
        check_name(key, what="tag")
        text = str(value)
        if len(text) > MAX_TAG_CHARS:
            raise InvalidInputError(
                f"tag {key!r} is {len(text):,} characters long (limit {MAX_TAG_CHARS:,})",
                hint="log large values as a file with run.log_artifact(path) instead",
            )
        checked[key] = text
    return checked


def check_run_name(name: str) -> str:
    """Validate a run's display name (1-200 characters, one line)."""
    if not name.strip() or len(name) > MAX_RUN_NAME or "\n" in name:
        raise InvalidInputError(
            f"invalid run name {name[:80]!r}", hint="use one line of 1-200 characters"
        )
    return name.strip()


def param_from_text(text: str) -> ParamValue:
    """The parameter value back from its stored JSON text."""
    value = json.loads(text)
    return value if value is None or isinstance(value, str | int | float | bool) else str(value)
