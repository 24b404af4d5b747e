"""`keel audit`: read the record of every change."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path

import typer

from keel import audit as audit_pkg
from keel.audit import checkpoints, keys, trust
from keel.audit import log as audit_log
from keel.audit.verify import parse_vkey
from keel.catalog.refs import parse_ref
from keel.cli import context
from keel.cli.context import AS_OPTION, FORMAT_OPTION, JSON_OPTION, console, print_json, warn
from keel.errors import UsageError

app = typer.Typer(help="The audit record of every change and decision.", no_args_is_help=True)

LOGS = ("governance", "traffic")
LOG_OPTION = typer.Option(
    "all", "--log", metavar="LOG", help="governance, traffic or all (the default)."
)


def _logs(choice: str) -> list[str]:
    context.check_choice(choice, (*LOGS, "all"), "--log")
    return list(LOGS) if choice == "all" else [choice]


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
    fmt: str = typer.Option(
        "text",
        "--format",
        metavar="FORMAT",
        **context.one_of(context.FORMATS, "--format"),
        help="text or json (one event per line).",
    ),
    which: str = LOG_OPTION,
) -> None:
    """List events, oldest first (of both logs, by time, unless --log picks one).

    With --format json each line is the event's stored canonical bytes.
    """
    logs = _logs(which)
    with context.workspace(ctx) as ws, ws.read() as session:
        events = [
            e
            for log in logs
            for e in audit_pkg.list_events(
                session,
                log=log,
                subject=_key(subject, None) if subject else None,
                actor=_key(actor, "user") if actor else None,
                since=_time(since) if since else None,
                limit=limit,
            )
        ]
    events.sort(key=lambda e: (e.time, e.log, e.seq))
    if limit:
        events = events[-limit:]
    several = len({e.log for e in events}) > 1
    for event in events:
        if fmt == "json":
            print(event.body.decode())
        else:
            where = f"{event.log}#{event.seq}" if several else f"{event.seq:>6}"
            console.print(
                f"{where} {event.time} {event.actor['id']} ({event.actor['via']}) "
                f"{event.action} {event.subject}",
                markup=False,
            )


def _key(text: str, default_kind: str | None) -> str:
    if default_kind is None and ":" not in text:
        return text  # subjects like "workspace" are not entity references
    ref, at, version = text.rpartition("@")
    if not (at and version.isdigit()):  # a release's subject: `model:x@2` -> `model:default/x@2`
        ref, at, version = text, "", ""
    try:
        return parse_ref(ref, default_kind=default_kind).key + (f"@{int(version)}" if at else "")
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
def checkpoint(ctx: typer.Context, which: str = LOG_OPTION, fmt: str = FORMAT_OPTION) -> None:
    """Sign a checkpoint of each log now, and print them (C2SP signed notes).

    The governance log is signed with the workspace's key, the traffic log with the
    traffic key; a log whose key this host does not hold is refused (skipped, with a
    warning, under --log all).
    """
    logs = _logs(which)
    notes = []
    with context.workspace(ctx) as ws:
        for log in logs:
            with ws.read() as session:
                if which == "all" and log != "governance" and not audit_pkg.head(session, log):
                    continue  # nothing to sign in a log that never had an event
            try:
                signer = _signer(ws, log)
            except UsageError as exc:
                if which != "all" or log == "governance":
                    raise
                warn(f"{exc}; not signed here")  # the gateway's host signs it
                continue
            with ws.write(context.actor(ctx, None)) as session:
                signed = checkpoints.checkpoint(session, signer, log, force=True)
            if signed is None:
                raise UsageError(f"the {log} log is empty: nothing to sign yet")
            notes.append((log, signed.note))
    if fmt == "json":
        print_json([{"log": log, "note": note} for log, note in notes])
        return
    print("\n".join(note for _, note in notes), end="")


def _signer(ws, log: str) -> keys.Signer:
    home = ws.settings.home
    if log == "governance":
        signer = ws.signer()
        if signer is None:
            raise UsageError(f"no signing key in {home}: run `keel init` where it was made")
        return signer
    try:
        return keys.load_signer(home, trust.key_name(ws.name, log), keys.TRAFFIC_KEY_FILE)
    except Exception as exc:
        raise UsageError(f"the {log} log's key is not on this host: {exc}") from None


@app.command("pubkey")
def pubkey(
    ctx: typer.Context,
    fmt: str = FORMAT_OPTION,
    json_alias: bool = JSON_OPTION,
    which: str = LOG_OPTION,
) -> None:
    """Print the workspace's public keys (current and retired) for verifiers.

    Pin the governance key you got out of band: `keel audit verify --key VKEY`, or
    `python -m keel.audit.verify --key VKEY DIR` for an export.
    """
    logs = _logs(which)
    with context.workspace(ctx) as ws, ws.read() as session:
        names = {trust.key_name(ws.name, log) for log in logs}
        entries = [e for e in keys.history(session) if e["name"] in names]
    entries.sort(key=lambda e: e["name"])  # governance first, each in the order made
    if context.is_json(fmt, json_alias):
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
    which: str = typer.Option(
        "governance", "--log", metavar="LOG", help="governance (the default) or traffic."
    ),
) -> None:
    """Print an inclusion proof (--leaf) or a consistency proof (--from/--to) as JSON.

    A proof is about one log, so --log takes governance or traffic, not all.
    """
    if which == "all":
        raise typer.BadParameter("a proof is about one log: give --log governance or traffic")
    (log,) = _logs(which)
    if (leaf is None) == (from_size is None):
        raise typer.BadParameter("give --leaf SEQ [--size N], or --from M [--to N]")
    with context.workspace(ctx) as ws, ws.read() as session:
        if leaf is not None:
            result = audit_log.inclusion(session, leaf, size=size, log=log)
        else:
            result = audit_log.consistency(session, from_size, to_size, log=log)  # type: ignore[arg-type]
    print_json(result.as_dict())


@app.command("verify")
def verify(
    ctx: typer.Context,
    which: str = LOG_OPTION,
    pins: list[str] = typer.Option(
        [],
        "--key",
        metavar="VKEY",
        help="Trust only this verifier key (from `keel audit pubkey`), not the key file; repeatable.",
    ),
    max_tail_age: float = typer.Option(
        audit_log.MAX_TAIL_AGE,
        "--max-tail-age",
        min=0,
        metavar="SECONDS",
        help="Fail when an event has stayed unsigned for longer.",
    ),
    fmt: str = FORMAT_OPTION,
) -> None:
    """Recompute the logs from their stored bytes and check every checkpoint; exit 1 on failure.

    Trusts the key file in KEEL_HOME (or the --key keys) and the keys the log introduces
    under checkpoints those keys signed, never the key table. Each log must still extend
    the checkpoint this host verified last (kept in KEEL_HOME/audit-verified.json).
    """
    logs = _logs(which)
    try:
        pinned = [parse_vkey(text) for text in pins]
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--key") from None
    with context.workspace(ctx) as ws:
        home = ws.settings.home
        seen = audit_log.remembered(home)
        with ws.read() as session:
            name = ws.name
            if not pinned:
                signer = ws.signer()
                if signer is None:
                    raise UsageError(
                        f"no key to trust: {home} has no {keys.KEY_FILE}; give the workspace's "
                        "public key with --key (`keel audit pubkey` prints it)"
                    )
                pinned = [audit_log.VerifierKey(signer.name, signer.public_key)]
            present = set(audit_log.logs(session))
            # under --log all, a log that never had an event is left out
            wanted = [
                log for log in logs if which != "all" or log == "governance" or log in present
            ]
            results = audit_log.verify_logs(
                session, name, wanted, pinned=pinned, since=seen, max_tail_age=max_tail_age
            )
        audit_log.remember(home, results)
    if fmt == "json":
        print_json(
            [
                {
                    "log": r.log,
                    "ok": r.ok,
                    "events": r.events,
                    "checkpoints": r.checkpoints,
                    "unsigned": r.unsigned,
                    "problems": r.problems,
                    "summary": r.summary(),
                }
                for r in results
            ]
        )
    for result in results if fmt == "text" else ():
        console.print(result.summary(), markup=False)
    raise typer.Exit(0 if all(r.ok for r in results) else 1)


@app.command("export")
def export(
    ctx: typer.Context,
    folder: Path = typer.Argument(..., metavar="DIR"),
    which: str = LOG_OPTION,
    fmt: str = FORMAT_OPTION,
) -> None:
    """Write the logs (events, checkpoints, key history) for offline checking.

    With --log all (the default) each log goes to a folder of its own, DIR/governance and
    DIR/traffic; with one log, DIR holds it.
    """
    logs = _logs(which)
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{folder} exists and is not a folder")
    with context.workspace(ctx) as ws:
        with ws.read() as session:
            present = set(audit_log.logs(session))
        logs = [log for log in logs if log == "governance" or log in present or which != "all"]
        for log in logs:  # sign the head first, so the whole export is covered
            try:
                signer = _signer(ws, log)
            except UsageError:
                continue  # exported as it is: its tail shows as unsigned
            with ws.write(context.actor(ctx, None)) as session:
                checkpoints.checkpoint(session, signer, log)
        name = ws.name
        counts = []
        with ws.read() as session:
            for log in logs:
                target = folder / log if which == "all" else folder
                try:
                    counts.append(audit_log.export(session, name, target, log))
                except OSError as exc:
                    raise UsageError(f"cannot write {target}: {exc.strerror or exc}") from None
    if fmt == "json":
        print_json({"folder": str(folder), "logs": logs, "events": sum(counts)})
        return
    console.print(
        f"exported {sum(counts)} events ({', '.join(logs)}) to {folder}; check with: "
        f"python -m keel.audit.verify --key VKEY {folder}",
        markup=False,
    )


@app.command("rotate-key")
def rotate_key(
    ctx: typer.Context,
    as_user: str | None = AS_OPTION,
    which: str = typer.Option(
        "governance", "--log", metavar="LOG", help="governance only, for now."
    ),
    fmt: str = FORMAT_OPTION,
) -> None:
    """Replace the signing key; the old one stays in the history so old checkpoints verify."""
    if which != "governance":
        raise typer.BadParameter("only the governance key rotates for now", param_hint="--log")
    actor = context.actor(ctx, as_user)
    with context.workspace(ctx) as ws:
        name = ws.name
        with ws.write(actor) as session:
            new = audit_log.rotate_key(session, actor, ws.settings.home, name)
        ws._signer = None
        ws.signer()  # the committed rotation's key now takes the key file's place
    context.output(
        fmt,
        {"log": which, "key_id": new.key_id},
        lambda: console.print(f"new signing key {new.key_id}", markup=False),
    )
