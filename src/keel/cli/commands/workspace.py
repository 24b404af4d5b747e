"""`keel init` and `keel workspace`: create, upgrade, inspect and switch a workspace."""

from __future__ import annotations

import typer

from keel.auth import list_tokens
from keel.cli import context, remote
from keel.cli.context import AS_OPTION, FORMAT_OPTION, JSON_OPTION, console, print_json, warn
from keel.store import schema
from keel.workspace import core

app = typer.Typer(help="Inspect the workspace or switch it to server mode.", no_args_is_help=True)


def init(ctx: typer.Context, fmt: str = FORMAT_OPTION, as_user: str | None = AS_OPTION) -> None:
    """Create or upgrade the workspace; safe to re-run.

    Creates KEEL_HOME with its SQLite store (or migrates the PostgreSQL store named by
    KEEL_DATABASE_URL) up to this version of Keel. Re-running it changes nothing.
    """
    settings = context.state(ctx).settings()
    ws, created = core.init_workspace(settings, context.actor(ctx, as_user))
    ws.close()
    where = settings.home if settings.embedded else _redacted(settings.database_url)
    verb = "created" if created else "up to date"
    context.output(
        fmt,
        {
            "created": created,
            "home": str(settings.home),
            "store": str(where),
            "schema": schema.HEAD,
        },
        lambda: console.print(f"workspace {verb}: {where} (schema {schema.HEAD})", markup=False),
    )


@app.command("show")
def show(ctx: typer.Context, fmt: str = FORMAT_OPTION, json_alias: bool = JSON_OPTION) -> None:
    """Where the workspace is: store, schema, mode."""
    settings = context.state(ctx).settings()
    with context.workspace(ctx) as ws, ws.read() as session:
        info = {
            "home": str(settings.home),
            "store": "sqlite" if settings.embedded else "postgresql",
            "database": _redacted(settings.database_url),
            "schema": schema.HEAD,
            "mode": core.get_mode(session),
        }
    if context.is_json(fmt, json_alias):
        print_json(info)
    else:
        for key, value in info.items():
            console.print(f"{key:9} {value}", markup=False)


@app.command("mode")
def mode(
    ctx: typer.Context,
    new_mode: str = typer.Argument(..., metavar="MODE", help="embedded or server."),
    fmt: str = FORMAT_OPTION,
    as_user: str | None = AS_OPTION,
) -> None:
    """Switch to server mode (changes only through the API).

    In server mode the local CLI may read but not change anything: changes go through the
    control plane with KEEL_URL and KEEL_TOKEN, so separation of duties means something.
    """
    context.check_choice(new_mode, core.MODES, "MODE")

    def here(ws, who) -> bool:
        with ws.write(who) as session:
            if new_mode == core.SERVER and not any(t.role == "admin" for t in list_tokens(session)):
                warn(
                    "no admin API token exists: create one first (`keel token create --role admin`), "
                    "or nothing can change this workspace any more"
                )
                raise typer.Exit(2)
            return core.set_mode(session, who, new_mode)

    changed = context.change(
        ctx,
        as_user,
        remote=lambda settings: remote.call(
            settings, "PUT", "/api/v1/workspace/mode", {"mode": new_mode}
        )["changed"],
        local=here,
    )
    context.output(
        fmt,
        {"mode": new_mode, "changed": changed},
        lambda: console.print(
            f"mode {'set to' if changed else 'already'} {new_mode}", markup=False
        ),
    )


def _redacted(url: str) -> str:
    """A database URL without its password."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # a URL SQLAlchemy cannot parse is shown as the user wrote it
        return url
