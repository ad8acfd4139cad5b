"""Flywheel: carry a supervised ML project around its whole lifecycle and keep the record.

The public facade. Open a workspace and use its stages::

    import flywheel_ml as fw

    ws = fw.open_workspace()            # the workspace of the current folder
    ws.plan.set(problem="...", objective="accuracy max", add_constraints=["model_mb < 50"])
"""

from flywheel_ml.errors import FlywheelError
from flywheel_ml.workspace import VerifyReport, Workspace, init_workspace, open_workspace

__version__ = "0.1.0"

__all__ = [
    "FlywheelError",
    "VerifyReport",
    "Workspace",
    "__version__",
    "init_workspace",
    "open_workspace",
]
