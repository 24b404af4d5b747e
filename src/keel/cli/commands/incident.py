"""`keel incident`: open, acknowledge, mitigate, note, resolve; action items; list and show.

Changes go through the control plane when KEEL_URL and KEEL_TOKEN are set (as every change
does, `keel.cli.context.change`), else to the local workspace. Exit 0 done; 2 bad input or a
step the incident's state forbids (resolving twice: one line, logged once).
"""

from __future__ import annotations

from urllib.parse import quote

import typer
from rich.markup import escape

from keel.cli import context, remote
from keel.cli.context import AS_OPTION, FORMAT_OPTION, console, print_json
from keel.incidents import service
from keel.incidents.timeline import timeline
from keel.pipeline import refusals

app = typer.Typer(help="Incidents: open, move forward, note, resolve.", no_args_is_help=True)
action_app = typer.Typer(help="An incident's action items.", no_args_is_help=True)
app.add_typer(action_app, name="action")

INCIDENT = typer.Argument(..., metavar="INC-N", help="The incident, e.g. INC-7.")
NOTE = typer.Option("", "--note", metavar="TEXT", help="What was done, for the record.")
API = "/api/v1/incidents"


def _path(incident: str, tail: str = "") -> str:
    return f"{API}/{quote(incident, safe='')}{tail}"


def _change(ctx, as_user, incident: str, method: str, tail: str, body, work) -> dict:
    """A change of an existing incident; refusals of its state are logged once."""
    return context.change(
        ctx,
        as_user,
        remote=lambda settings: remote.call(settings, method, _path(incident, tail), body),
        local=lambda ws, who: _summary(
            refusals.logged(
                ws, who, service.REFUSED, incident.strip().upper(), lambda s: work(s, who)
            )
        ),
    )


def _summary(found) -> dict:
    return found.as_dict() if isinstance(found, service.Incident) else found.summary()


@app.command("open")
def open_(
    ctx: typer.Context,
    system: list[str] = typer.Option(
        ..., "--system", metavar="SYSTEM", help="A system involved. Repeatable."
    ),
    severity: str = typer.Option(..., "--severity", metavar="N", help="1 (the worst) to 4."),
    title: str = typer.Option(..., "--title", metavar="TEXT", help="What is wrong, in a line."),
    release: list[str] = typer.Option(
        [], "--release", metavar="MODEL@N", help="A release involved. Repeatable."
    ),
    owner: str | None = typer.Option(
        None, "--owner", metavar="REF", help="A user or group (default: the system's owner)."
    ),
    fmt: str = FORMAT_OPTION,
    as_user: str | None = AS_OPTION,
) -> None:
    """Open an incident; prints its id (INC-N)."""
    level = service.check_severity(severity)
    body = {"systems": system, "severity": level, "title": title, "releases": release}
    if owner is not None:
        body["owner"] = owner

    def local(ws, who) -> dict:
        with ws.write(who) as session:
            return service.open_incident(
                session,
                who,
                systems=system,
                severity=level,
                title=title,
                releases=release,
                owner=owner,
            ).as_dict()

    opened = context.change(
        ctx, as_user, remote=lambda s: remote.call(s, "POST", API, body), local=local
    )
    if fmt == "json":
        print_json(opened)
    else:
        print(opened["id"])


def _moved(fmt: str, found: dict) -> None:
    if fmt == "json":
        print_json(found)
    else:
        console.print(f"{found['id']} is {found['status']}", markup=False)


def _move_command(name: str, status: str, doc: str) -> None:
    def command(
        ctx: typer.Context,
        incident: str = INCIDENT,
        note: str = NOTE,
        fmt: str = FORMAT_OPTION,
        as_user: str | None = AS_OPTION,
    ) -> None:
        found = _change(
            ctx,
            as_user,
            incident,
            "POST",
            "/status",
            {"status": status, "note": note},
            lambda s, who: service.move(s, who, incident, status, note),
        )
        _moved(fmt, found)

    command.__doc__ = doc
    app.command(name)(command)


_move_command("ack", "acknowledged", "Acknowledge an incident: someone is on it.")
_move_command("mitigate", "mitigated", "Mark an incident mitigated: the harm has stopped.")
_move_command("resolve", "resolved", "Resolve an incident (once; resolving twice is refused).")


@app.command()
def note(
    ctx: typer.Context,
    incident: str = INCIDENT,
    text: str = typer.Argument(..., metavar="TEXT", help="The note."),
    fmt: str = FORMAT_OPTION,
    as_user: str | None = AS_OPTION,
) -> None:
    """Add a note to an incident (also once resolved: what the postmortem found)."""
    found = _change(
        ctx,
        as_user,
        incident,
        "POST",
        "/notes",
        {"text": text},
        lambda s, who: service.add_note(s, who, incident, text),
    )
    if fmt == "json":
        print_json(found)
    else:
        console.print(f"noted on {found['id']} ({len(found['notes'])} notes)", markup=False)


@app.command()
def update(
    ctx: typer.Context,
    incident: str = INCIDENT,
    severity: str | None = typer.Option(None, "--severity", metavar="N", help="1 to 4."),
    title: str | None = typer.Option(None, "--title", metavar="TEXT"),
    owner: str | None = typer.Option(None, "--owner", metavar="REF", help="A user or group."),
    fmt: str = FORMAT_OPTION,
    as_user: str | None = AS_OPTION,
) -> None:
    """Change an incident's severity, title or owner."""
    level = service.check_severity(severity) if severity is not None else None
    body = {k: v for k, v in (("severity", level), ("title", title), ("owner", owner)) if v}
    found = _change(
        ctx,
        as_user,
        incident,
        "PATCH",
        "",
        body,
        lambda s, who: service.update(s, who, incident, severity=level, title=title, owner=owner),
    )
    if fmt == "json":
        print_json(found)
    else:
        console.print(f"{found['id']} updated", markup=False)


@action_app.command("add")
def action_add(
    ctx: typer.Context,
    incident: str = INCIDENT,
    title: str = typer.Option(..., "--title", metavar="TEXT", help="What is to be done."),
    owner: str = typer.Option(..., "--owner", metavar="REF", help="A user or group."),
    due: str | None = typer.Option(None, "--due", metavar="YYYY-MM-DD"),
    tag: str | None = typer.Option(None, "--tag", metavar="TAG", help="e.g. eval, retrain."),
    fmt: str = FORMAT_OPTION,
    as_user: str | None = AS_OPTION,
) -> None:
    """Add an action item to an incident that is not resolved yet."""
    body = {"title": title, "owner": owner, "due": due, "tag": tag}
    found = _change(
        ctx,
        as_user,
        incident,
        "POST",
        "/actions",
        body,
        lambda s, who: service.add_action(
            s, who, incident, title=title, owner=owner, due=due, tag=tag
        ),
    )
    if fmt == "json":
        print_json(found)
    else:
        console.print(f"action {found['number']} on {found['incident']}", markup=False)


@action_app.command("done")
def action_done(
    ctx: typer.Context,
    incident: str = INCIDENT,
    number: int = typer.Argument(..., metavar="N", help="The action item's number."),
    fmt: str = FORMAT_OPTION,
    as_user: str | None = AS_OPTION,
) -> None:
    """Mark an action item done."""
    found = _change(
        ctx,
        as_user,
        incident,
        "POST",
        f"/actions/{number}/done",
        None,
        lambda s, who: service.complete_action(s, who, incident, number),
    )
    if fmt == "json":
        print_json(found)
    else:
        console.print(f"action {found['number']} on {found['incident']} done", markup=False)


@app.command("list")
def list_(
    ctx: typer.Context,
    status: str | None = typer.Option(
        None, "--status", metavar="STATUS", help="open, acknowledged, mitigated or resolved."
    ),
    system: str | None = typer.Option(None, "--system", metavar="SYSTEM"),
    fmt: str = FORMAT_OPTION,
) -> None:
    """Incidents, newest first."""
    with context.workspace(ctx) as ws, ws.read() as session:
        found = service.list_incidents(session, status=status, system=system)
    if fmt == "json":
        print_json([i.summary() for i in found])
        return
    if not found:
        console.print("no incidents", markup=False)
    for i in found:
        systems = ", ".join(i.systems) or "-"
        console.print(
            f"{i.id:8} sev {i.severity}  {i.status:12} {i.opened_at[:19]}  {i.title}  ({systems})",
            markup=False,
        )


@app.command()
def show(ctx: typer.Context, incident: str = INCIDENT, fmt: str = FORMAT_OPTION) -> None:
    """An incident with its notes, action items and timeline."""
    with context.workspace(ctx) as ws, ws.read() as session:
        found = service.get_incident(session, incident)
        entries = timeline(session, found)
    if fmt == "json":
        print_json({**found.as_dict(), "timeline": [e.as_dict() for e in entries]})
        return
    console.print(
        f"[bold]{found.id}[/] sev {found.severity}, {found.status}: {escape(found.title)}"
    )
    console.print(f"  systems:  {', '.join(found.systems) or '-'}", markup=False)
    if found.releases:
        console.print(f"  releases: {', '.join(found.releases)}", markup=False)
    console.print(f"  owner:    {found.owner or 'nobody'}", markup=False)
    console.print(f"  opened:   {found.opened_at[:19]} by {found.opened_by}", markup=False)
    if found.cause:
        console.print(f"  cause:    {found.cause}", markup=False)
    for n in found.notes:
        console.print(f"  note {n.number}: {n.text} ({n.author})", markup=False)
    for a in found.actions:
        mark = "x" if a.done else " "
        extra = "".join(f" {k} {v}" for k, v in (("due", a.due), ("tag", a.tag)) if v)
        console.print(f"  [{mark}] {a.number}. {a.title} ({a.owner}{extra})", markup=False)
    console.print("timeline:", markup=False)
    for e in entries:
        console.print(f"  {e.time[:19]}  {e.source:10} {e.title}  {e.subject}", markup=False)
