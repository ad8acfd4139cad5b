"""Entry point of the ``flywheel`` console script: error mapping and global flags.

``--json`` and ``--debug`` are accepted anywhere before a ``--`` separator, so both
``flywheel --json status`` and ``flywheel status --json`` work.
"""

from __future__ import annotations

import sys

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
    """Run the CLI; user errors print one line and exit 2, bugs print a traceback."""
    import click

    from flywheel_ml.cli.app import app
    from flywheel_ml.errors import FlywheelError

    args = _take_global_flags(list(sys.argv[1:] if argv is None else argv))
    try:
        code = app(args=args, prog_name="flywheel", standalone_mode=False)
    except FlywheelError as exc:
        _report(exc)
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        print("error: aborted", file=sys.stderr)
        sys.exit(130)
    except click.ClickException as exc:
        if STATE.json:
            _print_json_error("usage", exc.format_message(), "run with --help for usage")
        exc.show()
        sys.exit(2)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)


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
