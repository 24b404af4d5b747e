"""`keel token` and `keel login-link`: API tokens and one-time browser logins."""

from __future__ import annotations

import re
from datetime import timedelta

import typer

from keel.auth import ROLES, create_token, list_tokens, revoke_tokens
from keel.cli import context, remote
from keel.cli.commands.serve import DEFAULT_PORT, base_url
from keel.cli.context import AS_OPTION, FORMAT_OPTION, JSON_OPTION, console, print_json

app = typer.Typer(help="API tokens: create (shown once), list, revoke.", no_args_is_help=True)
ROLE_HELP = f"One of {', '.join(ROLES)}."


def parse_duration(text: str) -> timedelta:
    """`90d`, `12h`, `30m` -> a timedelta."""
    match = re.fullmatch(r"(\d{1,5})([dhm])", text.strip())
    if not match or int(match.group(1)) == 0:
        raise typer.BadParameter(f"{text!r} is not a duration such as 90d, 12h or 30m")
    unit = {"d": "days", "h": "hours", "m": "minutes"}[match.group(2)]
    return timedelta(**{unit: int(match.group(1))})


@app.command("create")
def create(
    ctx: typer.Context,
    user: str = typer.Option(..., "--user", metavar="REF", help="The User it acts as (user:NAME)."),
    role: str = typer.Option(..., "--role", help=ROLE_HELP),
    expires: str | None = typer.Option(
        None, "--expires", metavar="DURATION", help="e.g. 90d, 12h."
    ),
    note: str = typer.Option("", "--note", help="What it is for."),
    fmt: str = FORMAT_OPTION,
    as_user: str | None = AS_OPTION,
) -> None:
    """Create an API token; the secret is printed once, only here."""
    context.check_choice(role, ROLES, "--role")
    ttl = parse_duration(expires) if expires else None

    def through_api(settings) -> tuple[str, str, str | None, str]:
        if ttl is not None and ttl % timedelta(days=1):
            raise typer.BadParameter("through the API, expiry is in whole days (e.g. 90d)")
        body = {
            "user": user,
            "role": role,
            "note": note,
            "expires_in_days": ttl.days if ttl else None,
        }
        answer = remote.call(settings, "POST", "/api/v1/tokens", body)
        return answer["id"], answer["user"], answer["expires_at"], answer["token"]

    def here(ws, who) -> tuple[str, str, str | None, str]:
        with ws.write(who) as session:
            info, secret = create_token(session, who, user, role, ttl=ttl, note=note)
        return info.id, info.user, info.expires_at, secret

    token_id, owner, expires_at, secret = context.change(
        ctx, as_user, remote=through_api, local=here
    )
    if fmt == "json":
        done = {"id": token_id, "user": owner, "role": role, "expires_at": expires_at}
        print_json({**done, "token": secret})
        return
    console.print(
        f"token {token_id} for {owner} ({role}), expires {expires_at or 'never'}", markup=False
    )
    print(secret)


@app.command("list")
def list_(ctx: typer.Context, fmt: str = FORMAT_OPTION, json_alias: bool = JSON_OPTION) -> None:
    """List live API tokens (never their secrets)."""
    with context.workspace(ctx) as ws, ws.read() as session:
        tokens = list_tokens(session)
    if context.is_json(fmt, json_alias):
        print_json([t.as_dict() for t in tokens])
        return
    for t in tokens:
        console.print(
            f"{t.id}  {t.user}  {t.role:6}  created {t.created_at}  expires "
            f"{t.expires_at or 'never'}  {t.note}",
            markup=False,
        )


@app.command("revoke")
def revoke(
    ctx: typer.Context,
    token_id: str | None = typer.Argument(None, metavar="ID", help="The token's id."),
    user: str | None = typer.Option(None, "--user", metavar="REF", help="Revoke all of a user's."),
    fmt: str = FORMAT_OPTION,
    as_user: str | None = AS_OPTION,
) -> None:
    """Revoke a token, or every credential of a user (--user)."""
    if bool(token_id) == bool(user):
        raise typer.BadParameter("give a token ID or --user, not both")

    def through_api(settings) -> list[str]:
        if user:
            raise typer.BadParameter("through the API, revoke one token ID at a time")
        return remote.call(settings, "DELETE", f"/api/v1/tokens/{token_id}")["revoked"]

    def here(ws, who) -> list[str]:
        with ws.write(who) as session:
            return revoke_tokens(session, who, token_id=token_id, user=user)

    revoked = context.change(ctx, as_user, remote=through_api, local=here)
    context.output(
        fmt,
        {"revoked": revoked},
        lambda: console.print(f"revoked {', '.join(revoked)}", markup=False),
    )


def login_link(
    ctx: typer.Context,
    user: str = typer.Option(..., "--user", metavar="REF", help="Who logs in (user:NAME)."),
    role: str = typer.Option("viewer", "--role", help=ROLE_HELP),
    url: str | None = typer.Option(
        None,
        "--url",
        help="The control plane (default: KEEL_PUBLIC_URL, else where `keel serve` last served "
        f"this workspace, else http://127.0.0.1:{DEFAULT_PORT}).",
    ),
    fmt: str = FORMAT_OPTION,
    as_user: str | None = AS_OPTION,
) -> None:
    """Print a one-time browser login link (valid 10 minutes)."""
    context.check_choice(role, ROLES, "--role")
    actor = context.actor(ctx, as_user)
    settings = context.state(ctx).settings()
    with context.workspace(ctx) as ws, ws.write(actor) as session:
        _, code = create_token(session, actor, user, role, kind="login")
    link = f"{(url or base_url(settings)).rstrip('/')}/login/code?c={code}"
    context.output(fmt, {"user": user, "role": role, "link": link}, lambda: print(link))
