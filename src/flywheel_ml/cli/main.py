"""Entry point of the ``flywheel`` console script: error mapping and global flags.

``--json`` and ``--debug`` are accepted anywhere before a ``--`` separator, so both
``flywheel --json status`` and ``flywheel status --json`` work.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any, NoReturn

from flywheel_ml.cli.context import STATE

_GLOBAL_FLAGS = {"--json": "json", "--debug": "debug"}


def _take_global_flags(argv: list[str]) -> list[str]:
    kept: list[str] = []
    for index, arg in enumerate(argv):
        if arg == "--":
            kept.extend(argv[index:])
            break
        if arg in _GLOBAL_FLAGS:
            setattr(STATE, _GLOBAL_FLAGS[arg], True)
        else:
            kept.append(arg)
    return kept


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; user errors print one line and exit 2, bugs print a traceback.

    As the console script (``argv`` None), the process ends with everything Python-level
    finished (threads joined, exit handlers run: open runs ended, buffers flushed, output
    written) but without tearing down native libraries.
    """
    try:
        _run(argv)
        code: object = 0
    except SystemExit as exc:
        code = exc.code
    if argv is not None:
        raise SystemExit(code)
    _exit_after_python_cleanup(code)


def _exit_after_python_cleanup(code: object) -> NoReturn:
    # pyarrow's C++ thread pools can abort the process while static destructors run at exit
    # ("terminate called without an active exception", apache/arrow#34314): seen here after
    # commands that had already printed their answer. Do what a normal exit does for Python
    # (join non-daemon threads, run atexit handlers, flush), then leave before native teardown.
    import atexit
    import threading

    if isinstance(code, str):
        print(code, file=sys.stderr)
        code = 1
    status = code if isinstance(code, int) else 0
    shutdown = getattr(threading, "_shutdown", None)
    if callable(shutdown):
        shutdown()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            status = status or 1  # the output could not be written: not a success
    os._exit(status)


def _run(argv: list[str] | None) -> None:
    # Die quietly when the reader goes away (`flywheel ... | head`), like other Unix tools.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    args = _take_global_flags(list(sys.argv[1:] if argv is None else argv))
    if "data" in args[:3] and not os.environ.get("FLYWHEEL_URL", "").strip():
        # `data status` and a folder `data add` answer before Typer and SQLAlchemy load (on
        # the local SQLite file: never for a team server's client).
        _answer_quickly(args)

    import typer

    from flywheel_ml.cli.app import build_app
    from flywheel_ml.errors import FlywheelError

    click = _click_exceptions()
    app = build_app(_subcommand(args))
    try:
        code = app(args=args, prog_name="flywheel", standalone_mode=False)
    except FlywheelError as exc:
        _report(exc)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        print("error: aborted", file=sys.stderr)
        sys.exit(130)
    except click.NoArgsIsHelpError as exc:
        # A group called without a sub-command: its help is the answer, not an error.
        print(exc.ctx.get_help() if exc.ctx is not None else exc.format_message())
        sys.exit(0)
    except click.ClickException as exc:
        command = exc.ctx.command_path if getattr(exc, "ctx", None) is not None else "flywheel"
        hint = f"run `{command} --help` for usage"
        message = exc.format_message().rstrip(".")
        if STATE.json:
            _print_json_error("usage", message, hint)
        print(f"error: {message} — {hint}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)


def _answer_quickly(args: list[str]) -> None:
    """Exit with the fast path's answer when it gives one; return when the full path must run.

    An add the fast path started reports its errors as the full command would (it cannot hand
    them to the full path: that would run the add a second time).
    """
    from flywheel_ml.cli.data_quick import answer
    from flywheel_ml.errors import FlywheelError

    try:
        answered = answer(args, json_output=STATE.json)
    except FlywheelError as exc:
        _report(exc)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        sys.exit(130)
    if answered:
        sys.exit(0)


def _subcommand(args: list[str]) -> str | None:
    """The first word that is not a root option (or its value): the sub-command to run."""
    skip_next = False
    for arg in args:
        if skip_next:
            skip_next = False
        elif arg in ("-C", "--workspace"):
            skip_next = True
        elif not arg.startswith("-"):
            return arg
        elif arg == "--":
            return None
    return None


def _click_exceptions() -> Any:
    """The module holding the click usage exceptions that Typer raises.

    Typer 0.28 vendors click as ``typer._click``; older releases use click itself.
    """
    import importlib

    try:
        return importlib.import_module("typer._click.exceptions")
    except ImportError:
        return importlib.import_module("click.exceptions")


def _report(exc: BaseException) -> None:
    from flywheel_ml.errors import FlywheelError

    assert isinstance(exc, FlywheelError)
    if STATE.debug:
        import traceback

        traceback.print_exception(exc)
    if STATE.json:
        _print_json_error(exc.code, exc.message, exc.hint)
    print(f"error: {exc.one_line()}", file=sys.stderr)


def _print_json_error(code: str, message: str, hint: str) -> None:
    import orjson

    sys.stdout.buffer.write(orjson.dumps({"error": code, "message": message, "hint": hint}) + b"\n")
    sys.stdout.flush()
