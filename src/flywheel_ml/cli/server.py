"""``flywheel server``: the team server, its users and tokens, and its schema migration.

Run on the server host, against the workspace the server serves (``-C`` or the current folder).
There are no default credentials: the first user is created here, and a token is printed once.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from flywheel_ml.cli.context import emit, open_ws

if TYPE_CHECKING:
    from rich.console import Console

    from flywheel_ml.core.access import TokenRecord, User

app = typer.Typer(
    help="The team server: start it, manage its users and tokens, migrate its database.",
    no_args_is_help=True,
)
user_app = typer.Typer(help="Users of the team server and their roles.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens (shown once, stored hashed).", no_args_is_help=True)
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")


def _user_json(user: User) -> dict[str, Any]:
    return {
        "name": user.name,
        "role": user.role.label,
        "created_at": user.created_at.isoformat(),
        "created_by": user.created_by,
    }


def _token_json(record: TokenRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "user": record.user,
        "created_at": record.created_at.isoformat(),
        "expires_at": None if record.expires_at is None else record.expires_at.isoformat(),
        "revoked_at": None if record.revoked_at is None else record.revoked_at.isoformat(),
    }


@app.command("start")
def start_command(
    host: Annotated[
        str, typer.Option(help="Address to listen on (only this machine by default).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8080,
) -> None:
    """Serve the UI and /api/v1 to the team; every route but probes needs a bearer token."""
    import uvicorn

    from flywheel_ml.server.team_app import create_team_app
    from flywheel_ml.server.ui_app import LOCAL_HOSTS

    with open_ws() as ws:
        hosts = list(LOCAL_HOSTS)
        if host in ("0.0.0.0", "::"):
            hosts = ["*"]  # listening everywhere: any name the machine answers to
        elif host not in hosts:
            hosts.append(host)
        app = create_team_app(ws, allowed_hosts=hosts, access_log=sys.stderr)
        users = ws.access.list_users()
        shown = f"[{host}]" if ":" in host else host
        typer.echo(
            f"Flywheel team server on http://{shown}:{port}/ ({len(users)} users; Ctrl-C to stop)",
            err=True,
        )
        if not users:
            typer.echo(
                "no users yet: every request will answer 401 until you run "
                "`flywheel server user add NAME --role admin` and "
                "`flywheel server token create NAME`",
                err=True,
            )
        config = uvicorn.Config(
            app, host=host, port=port, access_log=False, log_level="warning", lifespan="off"
        )
        try:
            uvicorn.Server(config).run()
        except KeyboardInterrupt:
            return


@app.command("migrate")
def migrate_command() -> None:
    """Bring the workspace database to this Flywheel's schema, under the migration lock."""
    from flywheel_ml.backends.sql.database import open_database
    from flywheel_ml.backends.sql.migrate import current_revision, ensure_schema, head_revision
    from flywheel_ml.cli.context import STATE
    from flywheel_ml.config import find_root, load_settings

    settings = load_settings(find_root(STATE.workspace_dir))
    database = open_database(settings.db_url)
    try:
        before = current_revision(database)
        # The same lock as every workspace open: pg_advisory_lock on PostgreSQL, a file lock
        # beside SQLite, so a migration never runs twice at once.
        lock = settings.state_dir / "migrate.lock" if database.is_sqlite else None
        ensure_schema(database, lock_path=lock)
        after = current_revision(database)
    finally:
        database.dispose()
    data = {"database": database.url, "from": before, "revision": after, "head": head_revision()}

    def render(out: Console) -> None:
        if before == after:
            out.print(f"{database.url} is at schema revision {after} already (head)")
        else:
            out.print(f"{database.url}: schema revision {before or 'none'} -> {after}")

    emit(data, render)


@user_app.command("add")
def user_add_command(
    name: Annotated[str, typer.Argument(help="User name: letters, digits, '.', '_', '-'.")],
    role: Annotated[
        str, typer.Option(help="viewer, annotator, scientist, lead or admin.")
    ] = "viewer",
) -> None:
    """Create a user with a role (then give them a token with `server token create`)."""
    from flywheel_ml.core.identity import current_actor

    with open_ws() as ws:
        user = ws.access.add_user(name, role=role, actor=current_actor())

    def render(out: Console) -> None:
        out.print(f"added {user.name} as {user.role.label}")

    emit(_user_json(user), render)


@user_app.command("list")
def user_list_command() -> None:
    """Every user with their role and number of live tokens."""
    from flywheel_ml.core.clock import utc_now

    now = utc_now()
    with open_ws() as ws:
        users = ws.access.list_users()
        tokens = ws.access.list_tokens()
    live: dict[str, int] = {}
    for record in tokens:
        if record.revoked_at is None and (record.expires_at is None or record.expires_at > now):
            live[record.user] = live.get(record.user, 0) + 1
    data = [{**_user_json(u), "live_tokens": live.get(u.name, 0)} for u in users]

    def render(out: Console) -> None:
        if not data:
            out.print("no users yet: flywheel server user add NAME --role admin")
        for row in data:
            out.print(f"{row['name']:<24} {row['role']:<10} live tokens: {row['live_tokens']}")

    emit(data, render)


@token_app.command("create")
def token_create_command(
    name: Annotated[str, typer.Argument(help="The user the token acts as.")],
    expires: Annotated[str, typer.Option(help="Lifetime, e.g. 90d, 12h, 2w, or 'never'.")] = "90d",
) -> None:
    """Create a token for a user and print it once (only its hash is stored)."""
    with open_ws() as ws:
        issued = ws.access.create_token(name, expires=expires)
    record = issued.record

    def render(out: Console) -> None:
        until = (
            "never expires"
            if record.expires_at is None
            else f"expires {record.expires_at:%Y-%m-%d %H:%M} UTC"
        )
        out.print(f"token {record.id} for {record.user} ({until}); it is shown only now:")
        # Plain print: the token must come out verbatim (no wrapping or markup).
        print(issued.token)

    emit({**_token_json(record), "token": issued.token}, render)


@token_app.command("revoke")
def token_revoke_command(
    token_id: Annotated[str, typer.Argument(metavar="ID", help="The token id (see token list).")],
) -> None:
    """Revoke a token: it answers 401 from the next request on."""
    with open_ws() as ws:
        record = ws.access.revoke_token(token_id)

    def render(out: Console) -> None:
        out.print(f"revoked token {record.id} of {record.user}")

    emit(_token_json(record), render)


@token_app.command("list")
def token_list_command(
    user: Annotated[str | None, typer.Option(help="Only this user's tokens.")] = None,
) -> None:
    """Every token (ids, owners, expiry, revocation; never the secrets)."""
    with open_ws() as ws:
        records = ws.access.list_tokens(user)
    data = [_token_json(r) for r in records]

    def render(out: Console) -> None:
        if not data:
            out.print("no tokens")
        for row in data:
            state = "revoked" if row["revoked_at"] else f"expires {row['expires_at'] or 'never'}"
            out.print(f"{row['id']}  {row['user']:<20} {state}")

    emit(data, render)
