"""A digits project with two registered models (a good and a weak one) and a saved slice."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tests.registry.conftest import make_project


@dataclass(frozen=True, slots=True)
class Analyzed:
    """A workspace with ``digits-clf@v1`` (good) and ``digits-clf@v2`` (weak)."""

    ws: Any
    good: str
    weak: str


def make_analyzed(ws: Any, *, rows: int = 900) -> Analyzed:
    """Fill ``ws``: page, digits data, two runs, two registered versions, one slice."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the weak model stops early on purpose
        project = make_project(ws, rows=rows)
    good = ws.registry.register(project.good_run, name="digits-clf")
    weak = ws.registry.register(project.weak_run, name="digits-clf")
    ws.data.add_slice("digits", "dark-centre", where="px36 > 10")
    return Analyzed(ws, good.ref, weak.ref)


@pytest.fixture
def analyzed(sqlite_workspace: Any) -> Analyzed:
    """The analysed digits project on SQLite."""
    return make_analyzed(sqlite_workspace)
