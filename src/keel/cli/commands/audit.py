"""`keel audit`: read the record of every change."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path

import typer

from keel import audit as audit_pkg
from keel.audit import checkpoints
from keel.audit import log as audit_log
from keel.catalog.refs import parse_ref
from keel.cli import context
from keel.cli.context import AS_OPTION, console, print_json
from keel.errors import UsageError

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


@app.command("checkpoint")
def checkpoint(ctx: typer.Context) -> None:
    """Sign a checkpoint of the log now, and print it (a C2SP signed note)."""
    with context.workspace(ctx) as ws:
        signer = ws.signer()
        if signer is None:
            raise UsageError(
                f"no signing key in {ws.settings.home}: run `keel init` where it was made"
            )
        with ws.write(context.actor(ctx, None)) as session:
            signed = checkpoints.checkpoint(session, signer, force=True)
    if signed is None:
        raise UsageError("the log is empty: nothing to sign yet")
    print(signed.note, end="")


@app.command("pubkey")
def pubkey(
    ctx: typer.Context, json_out: bool = typer.Option(False, "--json", help="Print JSON.")
) -> None:
    """Print the workspace's public keys (current and retired) for verifiers."""
    from keel.audit import keys

    with context.workspace(ctx) as ws, ws.read() as session:
        entries = keys.history(session)
    if json_out:
        print_json(entries)
        return
    for e in entries:  # C2SP verifier keys: name+hash+base64(0x01 || Ed25519 public key)
        state = f"retired {e['retired_at']}" if e["retired_at"] else "current"
        vkey = base64.b64encode(b"\x01" + bytes.fromhex(e["public_key"])).decode()
        print(f"{e['name']}+{e['key_id']}+{vkey}  ({state}, created {e['created_at']})")


@app.command("proof")
def proof(
    ctx: typer.Context,
    leaf: int | None = typer.Option(
        None, "--leaf", min=1, metavar="SEQ", help="Event to prove included."
    ),
    size: int | None = typer.Option(
        None, "--size", min=1, help="Tree size (default: latest checkpoint)."
    ),
    from_size: int | None = typer.Option(
        None, "--from", min=1, help="Older size, for consistency."
    ),
    to_size: int | None = typer.Option(
        None, "--to", min=1, help="Newer size (default: latest checkpoint)."
    ),
) -> None:
    """Print an inclusion proof (--leaf) or a consistency proof (--from/--to) as JSON."""
    if (leaf is None) == (from_size is None):
        raise typer.BadParameter("give --leaf SEQ [--size N], or --from M [--to N]")
    with context.workspace(ctx) as ws, ws.read() as session:
        if leaf is not None:
            result = audit_log.inclusion(session, leaf, size=size)
        else:
            result = audit_log.consistency(session, from_size, to_size)  # type: ignore[arg-type]
    print_json(result.as_dict())


@app.command("verify")
def verify(ctx: typer.Context) -> None:
    """Recompute every log from its stored bytes and check every checkpoint; exit 1 on failure."""
    with context.workspace(ctx) as ws, ws.read() as session:
        name, signer = ws.name, ws.signer()
        pinned = signer.public_key if signer else None  # trust the key file, not the key table
        results = [
            audit_log.verify(session, name, log, pinned=pinned) for log in audit_log.logs(session)
        ]
    for result in results:
        console.print(result.summary(), markup=False)
    raise typer.Exit(0 if all(r.ok for r in results) else 1)


@app.command("export")
def export(ctx: typer.Context, folder: Path = typer.Argument(..., metavar="DIR")) -> None:
    """Write the log (events, checkpoints, key history) for offline checking."""
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{folder} exists and is not a folder")
    with context.workspace(ctx) as ws:
        signer = ws.signer()
        if signer is not None:  # sign the head first, so the whole export is covered
            with ws.write(context.actor(ctx, None)) as session:
                checkpoints.checkpoint(session, signer)
        name = ws.name
        with ws.read() as session:
            try:
                count = audit_log.export(session, name, folder)
            except OSError as exc:
                raise UsageError(f"cannot write {folder}: {exc.strerror or exc}") from None
    console.print(
        f"exported {count} events to {folder}; check with: python -m keel.audit.verify {folder}",
        markup=False,
    )


@app.command("rotate-key")
def rotate_key(ctx: typer.Context, as_user: str | None = AS_OPTION) -> None:
    """Replace the signing key; the old one stays in the history so old checkpoints verify."""
    actor = context.actor(ctx, as_user)
    with context.workspace(ctx) as ws:
        name = ws.name
        with ws.write(actor) as session:
            new = audit_log.rotate_key(session, actor, ws.settings.home, name)
        ws._signer = None
        ws.signer()  # the committed rotation's key now takes the key file's place
    console.print(f"new signing key {new.key_id}", markup=False)
