"""`keel notify`: subscriptions to events, their deliveries, a test send, a delivery pass."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote, urlencode

import typer

from keel.cli import context, remote
from keel.cli.context import AS_OPTION, FORMAT_OPTION, console, print_json
from keel.errors import UsageError
from keel.identity import SYSTEM
from keel.notifications import (
    STATUSES,
    deliveries,
    known,
    list_subscriptions,
    remove,
    run_pass,
    send,
    service,
    subscribe,
)
from keel.notifications import deliver as delivery
from keel.notifications.targets import control_plane, shown

app = typer.Typer(
    help="Notifications: subscribe webhooks and e-mail addresses to events.",
    no_args_is_help=True,
)
settings_app = typer.Typer(help="Delivery settings (read from the environment).")
app.add_typer(settings_app, name="settings")


def _line(s: service.Subscription) -> str:
    target = shown(s.target) if s.kind == "webhook" else s.target
    subject = f"  subject {s.subject}" if s.subject else ""
    return f"{s.id}  {s.event}{subject}  -> {s.kind} {target}"


@app.command("subscribe")
def subscribe_(
    ctx: typer.Context,
    event: str = typer.Option(..., "--event", metavar="E", help="An event type or alias."),
    subject: str | None = typer.Option(
        None, "--subject", metavar="S", help="Only events about this entity (or prefix*)."
    ),
    webhook: str | None = typer.Option(None, "--webhook", metavar="URL", help="POST here."),
    secret_ref: str | None = typer.Option(
        None, "--secret-ref", metavar="REF", help="The signing key: env:NAME or file:/path."
    ),
    email: str | None = typer.Option(None, "--email", metavar="ADDR", help="Mail here."),
    recipients: bool = typer.Option(
        False,
        "--email-recipients",
        help="Mail each person the event names (approval-requested: the pod members who "
        "hold the roles asked), at their User's spec.profile.email.",
    ),
    fmt: str = FORMAT_OPTION,
    as_user: str | None = AS_OPTION,
) -> None:
    """Subscribe a webhook (signed, Standard Webhooks) or an e-mail address to an event type.

    Event types: `keel notify events`. Prints the subscription's id.
    """
    body = {
        "event": event,
        "subject": subject,
        "webhook": webhook,
        "secret_ref": secret_ref,
        "email": email,
        "recipients": recipients,
    }

    def through_api(settings) -> dict:
        return remote.call(settings, "POST", "/api/v1/subscriptions", body)

    def here(ws, who) -> dict:
        own = control_plane(ws.settings.public_url, ws.settings.url)
        with ws.write(who) as session:
            return subscribe(session, who, own=own, **body).as_dict()

    made = context.change(ctx, as_user, remote=through_api, local=here)
    if fmt == "json":
        print_json(made)
    else:
        console.print(_line(service.Subscription(**made)), markup=False)


@app.command("list")
def list_(
    ctx: typer.Context,
    every: bool = typer.Option(False, "--all", help="Removed subscriptions too."),
    fmt: str = FORMAT_OPTION,
) -> None:
    """List subscriptions."""
    with context.workspace(ctx) as ws, ws.read() as session:
        found = list_subscriptions(session, removed=every)
    if fmt == "json":
        print_json([s.as_dict() for s in found])
        return
    if not found:
        console.print("no subscriptions", markup=False)
    for s in found:
        gone = f"  (removed {s.removed_at})" if s.removed_at else ""
        console.print(_line(s) + gone, markup=False)


@app.command("remove")
def remove_(
    ctx: typer.Context,
    subscription: str = typer.Argument(..., metavar="SUBSCRIPTION", help="e.g. sub-3."),
    fmt: str = FORMAT_OPTION,
    as_user: str | None = AS_OPTION,
) -> None:
    """End a subscription; the deliveries it still owed are cancelled."""

    def through_api(settings) -> dict:
        return remote.call(settings, "DELETE", f"/api/v1/subscriptions/{quote(subscription)}")

    def here(ws, who) -> dict:
        with ws.write(who) as session:
            return remove(session, who, subscription).as_dict()

    gone = context.change(ctx, as_user, remote=through_api, local=here)
    if fmt == "json":
        print_json(gone)
    else:
        console.print(f"removed {gone['id']}", markup=False)


@app.command("events")
def events(fmt: str = FORMAT_OPTION) -> None:
    """The event types and aliases a subscription may name."""
    from keel.notifications.catalog import ALIASES, TYPES

    if fmt == "json":
        print_json(
            {
                "types": [t.__dict__ for t in TYPES],
                "aliases": {k: list(v) for k, v in ALIASES.items()},
                "known": known(),
            }
        )
        return
    for t in TYPES:
        later = f"  (not written yet: {t.written_from})" if t.written_from else ""
        console.print(f"{t.action:34} {t.alias:24} {t.about}{later}", markup=False)
    for alias, names in sorted(ALIASES.items()):
        if len(names) > 1 or names[0].endswith("*"):
            console.print(f"{alias:34} = {', '.join(names)}", markup=False)


@app.command("deliveries")
def deliveries_(
    ctx: typer.Context,
    status: str | None = typer.Option(None, "--status", help=f"One of {', '.join(STATUSES)}."),
    subscription: str | None = typer.Option(None, "--subscription", metavar="SUBSCRIPTION"),
    limit: int = typer.Option(100, "--limit", min=1, max=10_000),
    with_attempts: bool = typer.Option(False, "--attempts", help="Each attempt too."),
    fmt: str = FORMAT_OPTION,
) -> None:
    """Deliveries, newest first: pending, delivered, dead (the dead letters), cancelled."""
    if remote.enabled(context.state(ctx).settings()):
        query = {"status": status, "subscription": subscription, "limit": limit}
        path = "/api/v1/subscriptions/deliveries?" + urlencode(
            {k: v for k, v in query.items() if v is not None}
        )
        found = remote.call(context.state(ctx).settings(), "GET", path)["deliveries"]
        tries = {}
    else:
        with context.workspace(ctx) as ws, ws.read() as session:
            found = [
                d.as_dict()
                for d in deliveries(session, status=status, subscription=subscription, limit=limit)
            ]
            tries = (
                {d["id"]: service.attempts(session, d["id"]) for d in found}
                if with_attempts
                else {}
            )
    if fmt == "json":
        print_json([{**d, "attempt_log": tries[d["id"]]} if tries else d for d in found])
        return
    if not found:
        console.print("no deliveries", markup=False)
    for d in found:
        when = d["done_at"] if d["done_at"] else f"next {d['next_at']}"
        error = f"  {d['last_error']}" if d["last_error"] else ""
        console.print(
            f"{d['id']}  {d['subscription']}  #{d['event_seq']} {d['action']}  {d['status']}"
            f"  {d['attempts']} attempt(s), {when}{error}",
            markup=False,
        )
        for a in tries.get(d["id"], []):
            code = f" {a['status']}" if a["status"] is not None else ""
            console.print(
                f"    #{a['number']} {a['at']} {a['outcome']}{code} {a['ms']} ms"
                f"{'  ' + a['error'] if a['error'] else ''}",
                markup=False,
            )


@app.command("test")
def test(
    ctx: typer.Context,
    subscription: str = typer.Argument(..., metavar="SUBSCRIPTION", help="e.g. sub-3."),
    fmt: str = FORMAT_OPTION,
) -> None:
    """Send a sample notification (type `keel.test`) to a subscription now; records nothing.

    Exit 0 when the target took it, 1 when it did not (the line says why).
    """
    with context.workspace(ctx) as ws:
        with ws.read() as session:
            row = service.get(session, subscription)
        settings = ws.settings
        outcome = delivery.send_test(
            row, settings.public_url, control_plane(settings.public_url, settings.url)
        )
    result = {"subscription": row.id, **outcome.__dict__}
    if fmt == "json":
        print_json(result)
    elif outcome.ok:
        console.print(f"{row.id}: delivered ({outcome.status}, {outcome.ms} ms)", markup=False)
    else:
        console.print(f"{row.id}: not delivered: {outcome.error}", markup=False)
    raise typer.Exit(0 if outcome.ok else 1)


@app.command("deliver")
def deliver_(
    ctx: typer.Context,
    once: bool = typer.Option(False, "--once", help="One pass, then exit (required for now)."),
    at: str | None = typer.Option(
        None, "--at", metavar="TIME", help="Attempt what is due at this ISO time (UTC)."
    ),
    fmt: str = FORMAT_OPTION,
) -> None:
    """One delivery pass outside the worker: fan out new events, attempt what is due.

    Each attempt is recorded as soon as it is made. `keel worker` runs the same pass every
    few seconds (reconciler `notifications.deliver`).
    """
    if not once:
        raise UsageError(
            "keel notify deliver runs one pass: give --once (keel worker runs it always)"
        )
    now = _time(at) if at else None
    with context.workspace(ctx) as ws:
        settings = ws.settings
        done = run_pass(
            lambda: ws.write(SYSTEM),
            SYSTEM,
            now=now,
            public_url=settings.public_url,
            own=control_plane(settings.public_url, settings.url),
        )
    if fmt == "json":
        print_json(done.as_dict())
    else:
        console.print(done.summary() or "nothing to deliver", markup=False)


def _time(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"--at {text!r} is not an ISO time such as 2026-12-01T09:00:00Z") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@settings_app.command("smtp")
def smtp(fmt: str = FORMAT_OPTION) -> None:
    """The SMTP settings this process would deliver with (KEEL_SMTP_*), never the password."""
    found = send.smtp_settings()
    data = {**found.__dict__}
    if fmt == "json":
        print_json(data)
        return
    for key, value in data.items():
        console.print(f"{key:13} {value if value is not None else '-'}", markup=False)
