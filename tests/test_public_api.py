"""The public facade: ``flywheel_ml.__all__`` is pinned, and every name in it resolves."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import flywheel_ml

EXPECTED_ALL = [
    "FlywheelError",
    "VerifyReport",
    "Workspace",
    "__version__",
    "connect_workspace",
    "init_workspace",
    "open_workspace",
]


def test_all_is_pinned() -> None:
    assert flywheel_ml.__all__ == EXPECTED_ALL


def test_every_public_name_resolves() -> None:
    for name in flywheel_ml.__all__:
        assert getattr(flywheel_ml, name) is not None, name
    assert set(flywheel_ml.__all__) <= set(dir(flywheel_ml))


def test_unknown_attribute_raises_attribute_error() -> None:
    try:
        _ = flywheel_ml.no_such_name  # type: ignore[attr-defined]
    except AttributeError as exc:
        assert "no_such_name" in str(exc)
    else:  # pragma: no cover - the assertion explains the failure
        raise AssertionError("flywheel_ml.no_such_name did not raise AttributeError")


def test_import_is_lazy() -> None:
    """``import flywheel_ml`` must not pay for SQLAlchemy (the CLI's start-up depends on it)."""
    code = "import sys, flywheel_ml; print('sqlalchemy' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"


def test_status_of_every_stage_loads_no_model_library(tmp_path: Path) -> None:
    """The lifecycle status reads every stage's records; none of that needs scikit-learn or
    SciPy (importing them cost `flywheel status --fresh` a second)."""
    code = (
        "import sys, flywheel_ml as fw\n"
        f"ws = fw.init_workspace({str(tmp_path / 'ws')!r}, name='lazy')\n"
        "ws.status()\n"
        "print(sorted(m for m in ('sklearn', 'scipy') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
