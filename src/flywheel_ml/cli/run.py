"""``flywheel run -- CMD ...``: run any script as a tracked run.

The run records lineage (git commit and diff digest, Python, packages, host, user, the command),
the script's stdout and stderr as artifacts ``logs/stdout.txt`` and ``logs/stderr.txt``, its exit
code (tag ``exit_code``) and a status: finished (exit 0), failed (non-zero), killed (signal or
Ctrl-C). The child gets ``FLYWHEEL_RUN_ID`` and ``FLYWHEEL_WORKSPACE``, so ``ws.track.start_run()``
inside the script logs into this same run. Exits with the script's exit code.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated

import typer

from flywheel_ml.cli.context import STATE, emit, open_ws

if TYPE_CHECKING:
    from rich.console import Console


def _pairs(items: list[str] | None, what: str) -> dict[str, str]:
    from flywheel_ml.errors import InvalidInputError

    pairs = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InvalidInputError(
                f"--{what} {item!r} is not KEY=VALUE", hint=f"e.g. --{what} lr=0.1"
            )
        pairs[key.strip()] = value
    return pairs


_HELD_MAX = 1 << 16


def _tee(source: IO[bytes], log: IO[bytes], terminal: IO[bytes]) -> None:
    """Copy ``source`` to ``log`` as it comes and to ``terminal`` whole lines at a time.

    The script's stdout and stderr are read by two threads and may reach one terminal (stdout
    goes to stderr under ``--json``); a script writing unbuffered sends ``print("a", 1)`` as
    several writes, which the other stream's lines would otherwise cut in the middle. A partial
    line is held until its end (or a carriage return, for progress bars), the end of the
    stream, or 64 KiB.
    """
    held = b""
    for chunk in iter(lambda: source.read1(65536), b""):  # type: ignore[attr-defined]
        log.write(chunk)
        log.flush()
        held += chunk
        cut = max(held.rfind(b"\n"), held.rfind(b"\r")) + 1
        if not cut and len(held) >= _HELD_MAX:
            cut = len(held)
        if cut:
            terminal.write(held[:cut])
            terminal.flush()
            held = held[cut:]
    if held:
        terminal.write(held)
        terminal.flush()


def run_command(
    command: Annotated[list[str], typer.Argument(help="The command to run, after --.")],
    name: Annotated[str | None, typer.Option(help="Run name (default: the script's name).")] = None,
    param: Annotated[
        list[str] | None, typer.Option(help="Record a parameter KEY=VALUE; repeatable.")
    ] = None,
    tag: Annotated[list[str] | None, typer.Option(help="Set a tag KEY=VALUE; repeatable.")] = None,
) -> None:
    """Run a command as a tracked run: lineage, stdout/stderr, exit status."""
    from flywheel_ml.errors import InvalidInputError
    from flywheel_ml.track.sessions import RUN_ID_ENV

    if not command:
        raise InvalidInputError("no command to run", hint="flywheel run -- python train.py")
    params = _pairs(param, "param")
    tags = _pairs(tag, "tag")
    script = command[1] if len(command) > 1 and not command[1].startswith("-") else command[0]
    default_name = Path(script).name if Path(command[0]).name.startswith("python") else command[0]
    with open_ws() as ws, tempfile.TemporaryDirectory(prefix="flywheel-run-") as tmp:
        run = ws.track.start_run(
            name or default_name, params=params, tags=tags, command=command, run_id=""
        )
        env = {**os.environ, RUN_ID_ENV: run.id, "FLYWHEEL_WORKSPACE": str(ws.root)}
        out_path, err_path = Path(tmp) / "stdout.txt", Path(tmp) / "stderr.txt"
        try:
            child = subprocess.Popen(
                command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
        except OSError as exc:
            run.end("failed")
            raise InvalidInputError(
                f"cannot start {command[0]!r}: {exc.strerror}", hint="check the command"
            ) from exc
        terminal_out = sys.stderr.buffer if STATE.json else sys.stdout.buffer
        with out_path.open("wb") as out_file, err_path.open("wb") as err_file:
            assert child.stdout is not None and child.stderr is not None
            threads = [
                threading.Thread(target=_tee, args=(child.stdout, out_file, terminal_out)),
                threading.Thread(target=_tee, args=(child.stderr, err_file, sys.stderr.buffer)),
            ]
            for thread in threads:
                thread.start()
            try:
                code = child.wait()
            except KeyboardInterrupt:
                child.send_signal(signal.SIGINT)
                code = child.wait()
            for thread in threads:
                thread.join()
        run.log_artifact(out_path, name="logs/stdout.txt", kind="log")
        run.log_artifact(err_path, name="logs/stderr.txt", kind="log")
        run.set_tag("exit_code", code)
        status = "finished" if code == 0 else ("killed" if code < 0 or code == 130 else "failed")
        run.end(status)
        run_id = run.id
    data = {"run": run_id, "status": status, "exit_code": code}

    def render(out: Console) -> None:
        out.print(
            f"Run {run_id[-8:]} {status} (exit code {code}): flywheel track show {run_id[-8:]}",
            style="dim",
        )

    emit(data, render)
    raise typer.Exit(code if code >= 0 else 128 - code)


def register(app: typer.Typer) -> None:
    """Add ``run`` to the root command."""
    app.command("run", context_settings={"allow_interspersed_args": False})(run_command)
