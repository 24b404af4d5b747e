"""`keel audit`: read the record of every change."""

from __future__ import annotations

from datetime import UTC, datetime

import typer

from keel import audit as audit_pkg
from keel.catalog.refs import parse_ref
from keel.cli import context
from keel.cli.context import console

app = typer.Typer(help="The audit record of every change and decision.", no_args_is_help=True)


@app.command("log")
def log(
    ctx: typer.Context,
    subject: str | None = typer.Option(
        None, "--subject", metavar="REF", help="Only events about this."
    ),
    actor: str | None = typer.Option(
        None, "--actor", metavar="USER", help="Only events by this user."
    ),
    since: str | None = typer.Option(
        None,
        "--since",
        metavar="TIME",
        help="Only events at or after this ISO time (UTC if no zone).",
    ),
    limit: int | None = typer.Option(
        None, "--limit", "-n", min=1, max=10_000_000, help="Only the newest N."
    ),
    fmt: str = typer.Option("text", "--format", help="text or json (one event per line)."),
) -> None:
    """List events, oldest first.

    With --format json each line is the event's stored canonical bytes.
    """
    context.check_choice(fmt, ("text", "json"), "--format")
    with context.workspace(ctx) as ws, ws.read() as session:
        events = audit_pkg.list_events(
            session,
            subject=_key(subject, None) if subject else None,
            actor=_key(actor, "user") if actor else None,
            since=_time(since) if since else None,
            limit=limit,
        )
    for event in events:
        if fmt == "json":
            print(event.body.decode())
        else:
            console.print(
                f"{event.seq:>6} {event.time} {event.actor['id']} ({event.actor['via']}) "
                f"{event.action} {event.subject}",
                markup=False,
            )


def _key(text: str, default_kind: str | None) -> str:
    if default_kind is None and ":" not in text:
        return text  # subjects like "workspace" are not entity references
    try:
        return parse_ref(text, default_kind=default_kind).key
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def _time(text: str) -> str:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    except (ValueError, OverflowError):
        raise typer.BadParameter(f"{text!r} is not an ISO time such as 2026-11-25T10:00") from None
