"""``flywheel login``: use a team server from this machine (``flywheel logout`` forgets it).

After ``flywheel login URL --token T``, every command run outside a local workspace folder, and
``fw.open_workspace()`` in the SDK, works on the server's workspace over REST.
``FLYWHEEL_URL`` and ``FLYWHEEL_TOKEN`` do the same for one process (CI, a training job) and
win over both the saved login and a local workspace.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from flywheel_ml.cli.context import emit

if TYPE_CHECKING:
    from rich.console import Console


def login_command(
    url: Annotated[str, typer.Argument(help="The team server, e.g. http://flywheel.internal:8080")],
    token: Annotated[
        str,
        typer.Option(
            "--token",
            prompt=True,
            hide_input=True,
            envvar="FLYWHEEL_TOKEN",
            help="An API token from `flywheel server token create` (asked for when not given).",
        ),
    ],
) -> None:
    """Check a token against a team server and keep both for later commands (file mode 0600)."""
    import orjson

    from flywheel_ml.backends.rest import RestClient
    from flywheel_ml.config import ServerLogin, find_root, save_login
    from flywheel_ml.errors import WorkspaceNotFoundError

    client = RestClient(url, token.strip())
    try:
        who = orjson.loads(client.send("GET", "/api/v1/whoami").content)
    finally:
        client.close()
    path = save_login(ServerLogin(url=client.url, token=token.strip()))
    try:
        local = str(find_root(None))
    except WorkspaceNotFoundError:
        local = ""

    def render(out: Console) -> None:
        out.print(
            f"Logged in to {client.url} (workspace {who['workspace']!r}) as {who['user']} "
            f"({who['role']}); saved in {path}."
        )
        if local:
            out.print(
                f"Note: in {local} the local workspace is used; run commands elsewhere, or set "
                "FLYWHEEL_URL, to use the server."
            )

    emit({**who, "url": client.url, "saved": str(path), "local_workspace": local}, render)


def register(app: typer.Typer) -> None:
    """Add ``login`` to the root command."""
    app.command("login")(login_command)
