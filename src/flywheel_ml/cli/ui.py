"""``flywheel ui``: the web UI and its JSON API on 127.0.0.1 (read-only unless ``--write``)."""

from __future__ import annotations

import typer

from flywheel_ml.cli.context import open_ws


def ui_command(
    port: int = typer.Option(8080, "--port", help="TCP port."),
    host: str = typer.Option(
        "127.0.0.1", "--host", help="Address to listen on (only this machine by default)."
    ),
    write: bool = typer.Option(
        False, "--write", help="Allow changes (promote, rollback, labels); each is recorded."
    ),
) -> None:
    """Serve the dashboard and one page per lifecycle stage; Ctrl-C stops it."""
    import uvicorn

    from flywheel_ml.server.ui_app import LOCAL_HOSTS, create_ui_app

    with open_ws() as ws:
        hosts = list(LOCAL_HOSTS)
        if host not in hosts and host not in ("0.0.0.0", "::"):
            hosts.append(host)
        if host in ("0.0.0.0", "::"):
            # Listening everywhere: the Host header can be any name the machine answers to.
            hosts = ["*"]
        app = create_ui_app(ws, write=write, allowed_hosts=hosts)
        shown = f"[{host}]" if ":" in host else host
        mode = "changes allowed" if write else "read-only"
        typer.echo(f"Flywheel UI on http://{shown}:{port}/ ({mode}; Ctrl-C to stop)", err=True)
        config = uvicorn.Config(
            app, host=host, port=port, access_log=False, log_level="warning", lifespan="off"
        )
        try:
            uvicorn.Server(config).run()
        except KeyboardInterrupt:
            return


def register(app: typer.Typer) -> None:
    """Add ``flywheel ui`` to the root app."""
    app.command("ui")(ui_command)
