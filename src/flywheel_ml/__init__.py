"""Flywheel: carry a supervised ML project around its whole lifecycle and keep the record.

The public facade. Open a workspace and use its stages::

    import flywheel_ml as fw

    ws = fw.open_workspace()            # the workspace of the current folder (or FLYWHEEL_URL)
    ws = fw.connect_workspace("http://flywheel.internal:8080", token="...")   # a team server
    ws.plan.set(problem="...", objective="accuracy max", add_constraints=["model_mb < 50"])

Names are imported on first use (PEP 562), so ``import flywheel_ml`` and the CLI's start-up do
not pay for SQLAlchemy until a workspace is opened.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from flywheel_ml.backends.object_verification import VerifyReport
    from flywheel_ml.errors import FlywheelError
    from flywheel_ml.workspace import (
        Workspace,
        connect_workspace,
        init_workspace,
        open_workspace,
    )

_LAZY = {
    "FlywheelError": "flywheel_ml.errors",
    "VerifyReport": "flywheel_ml.backends.object_verification",
    "Workspace": "flywheel_ml.workspace",
    "connect_workspace": "flywheel_ml.workspace",
    "init_workspace": "flywheel_ml.workspace",
    "open_workspace": "flywheel_ml.workspace",
}

__all__ = [
    "FlywheelError",
    "VerifyReport",
    "Workspace",
    "__version__",
    "connect_workspace",
    "init_workspace",
    "open_workspace",
]


# Stage packages reached as attributes, e.g. ``fw.track.fit(...)``, without an explicit import.
_STAGES = frozenset(
    {"plan", "data", "label", "track", "tune", "analyze", "registry", "serve", "monitor"}
)


def __getattr__(name: str) -> Any:
    if name in _STAGES:
        return import_module(f"flywheel_ml.{name}")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'flywheel_ml' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
