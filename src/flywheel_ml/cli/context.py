"""What every command shares: the global options, the workspace, and how results are printed.

Commands print human output with Rich on a terminal (plain text when piped) and, under
``--json``, exactly one JSON document on stdout. Progress bars appear only on a terminal and
never under ``--json``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from flywheel_ml.workspace import Workspace


@dataclass(slots=True)
class CliState:
    """The global options, parsed once by the root callback."""

    json: bool = False
    debug: bool = False
    workspace_dir: Path | None = None


STATE = CliState()


def console(*, stderr: bool = False) -> Console:
    """A Rich console for human output (quiet styling when not on a terminal)."""
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def open_ws() -> Workspace:
    """The workspace named by ``-C``, ``FLYWHEEL_WORKSPACE`` or the current folder."""
    from flywheel_ml.workspace import open_workspace

    return open_workspace(STATE.workspace_dir)


def emit(data: Any, render: Callable[[Console], None]) -> None:
    """Print ``data`` as JSON under ``--json``, else call ``render`` with a console."""
    if STATE.json:
        import orjson

        sys.stdout.buffer.write(
            orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS, default=str)
            + b"\n"
        )
        sys.stdout.flush()
    else:
        render(console())


def fail(code: int = 1) -> None:
    """End the command with ``code`` (1: a check failed; 2 is reserved for user errors)."""
    import typer  # here, not at the top: the fast paths of cli.main import this module

    raise typer.Exit(code)


@contextmanager
def progress(description: str, *, total: int | None = None) -> Iterator[Callable[[int], None]]:
    """A progress bar on a terminal, nothing otherwise; yields ``advance_to(completed)``."""
    if STATE.json or not sys.stderr.isatty():
        yield lambda _completed: None
        return
    from rich.progress import Progress

    with Progress(console=console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=total)
        yield lambda completed: bar.update(task, completed=completed)
