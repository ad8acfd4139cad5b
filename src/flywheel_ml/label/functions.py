"""Labelling functions (weak supervision): ``module:function`` called on a DataFrame of items.

A labelling function gets the items' features (no id, no label column) as a pandas DataFrame
and returns one label per row, ``None`` (or NaN) to abstain. Each function is a source for
:mod:`flywheel_ml.label.aggregation`, like an annotator.

>>> def has_bar(items):                       # mylfs.py        # doctest: +SKIP
...     return ["7" if v > 12 else None for v in items["px3"]]
"""

from __future__ import annotations

import importlib
import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from flywheel_ml.errors import InvalidInputError, NotFoundError
from flywheel_ml.label.annotations import class_key

if TYPE_CHECKING:
    import pandas as pd

_TARGET_RE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


def check_target(target: str) -> str:
    """``target`` when it has the form ``module:function``.

    Raises:
        InvalidInputError: another form.
    """
    if not _TARGET_RE.fullmatch(target):
        raise InvalidInputError(
            f"not a labelling function reference: {target!r}",
            hint="use module:function, e.g. mylfs:has_bar",
        )
    return target


def load_function(target: str) -> Any:
    """The callable ``module:function`` names (imported from the current folder or sys.path).

    Raises:
        NotFoundError: the module or function cannot be found.
    """
    import sys
    from pathlib import Path

    module_name, _, name = check_target(target).partition(":")
    cwd = str(Path.cwd())
    if cwd not in sys.path:
        sys.path.insert(0, cwd)  # like `python -m`: functions next to the project are found
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise NotFoundError(
            f"cannot import {module_name!r} for {target}: {exc}",
            hint="run from the folder holding the module, or install it",
        ) from None
    function = getattr(module, name, None)
    if not callable(function):
        raise NotFoundError(
            f"{module_name} has no function {name!r}", hint="check the name after the colon"
        )
    return function


def run_function(target: str, items: pd.DataFrame) -> list[str | None]:
    """The class key each row gets from the function (None = abstain).

    Raises:
        InvalidInputError: the function returned a different number of labels than rows.
    """
    import pandas as pd

    out = load_function(target)(items)
    values: Sequence[Any] = list(out) if not isinstance(out, pd.Series) else out.tolist()
    if len(values) != len(items):
        raise InvalidInputError(
            f"{target} returned {len(values)} labels for {len(items)} items",
            hint="return one label (or None to abstain) per row",
        )
    return [
        None if v is None or (isinstance(v, float) and math.isnan(v)) else class_key(v)
        for v in values
    ]
