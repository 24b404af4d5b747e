"""`keel worker` and `keel schedule`: the background work every package declares.

`keel worker` leads and runs until SIGTERM or SIGINT; `--once [--at TIME]` runs one pass of
each reconciler and every job slot due at TIME, then exits 0, or 1 if any failed. `keel worker
status` and `keel schedule list|show|pause|resume` read and change the stored state.
"""

from __future__ import annotations

import signal
import sys
import threading
from datetime import UTC, datetime
from urllib.parse import quote

import typer

from keel.cli import context, remote
from keel.cli.context import AS_OPTION, FORMAT_OPTION, console, print_json
from keel.clock import stamp
from keel.errors import UsageError
from keel.worker import leader, runner, schedule

app = typer.Typer(
    help="Run the control plane's background work: schedules and reconcilers.",
    invoke_without_command=True,
)
schedule_app = typer.Typer(
    help="The jobs packages declare: list, show, pause, resume.", no_args_is_help=True
)


def parse_at(text: str | None) -> datetime:
    """`--at`: an ISO 8601 time (UTC if it names no zone); now when not given."""
    if text is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError):
        raise UsageError(
            f"--at {text!r} is not an ISO 8601 time such as 2026-12-01T03:00Z"
        ) from None


@app.callback()
def worker(
    ctx: typer.Context,
    once: bool = typer.Option(False, "--once", help="Run what is due now, then exit."),
    at: str | None = typer.Option(
        None, "--at", metavar="TIME", help="With --once: run what is due at this ISO time."
    ),
    fmt: str = FORMAT_OPTION,
) -> None:
    """Lead and run the jobs and reconcilers until SIGTERM or SIGINT (`--once`: one pass).

    One worker leads a workspace at a time: on SQLite a second is refused; on PostgreSQL it
    waits and takes over when the leader dies. `--once` exits 0, or 1 if any job failed.
    """
    if ctx.invoked_subcommand is not None:
        return
    context.check_choice(fmt, ("text", "json"), "--format")
    if at is not None and not once:
        raise UsageError("--at goes with --once (a running worker follows the clock)")
    now = parse_at(at)
    plan = runner.load()  # a bad declaration refuses to start, naming the job
    with context.workspace(ctx) as ws:
        if once:
            lock = leader.Leadership(ws.engine, ws.settings.home, ws.name)
            lock.acquire(wait=False)
            try:
                outcomes = runner.once(ws, plan, now)
            finally:
                lock.release()
            if fmt == "json":
                print_json([o.as_dict() for o in outcomes])
            else:
                for outcome in outcomes:
                    console.print(outcome.line(), markup=False)
            raise typer.Exit(1 if any(o.failed for o in outcomes) else 0)
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        ws.start_sealing()
        runner.serve(ws, plan, stop, _say)
    _say("stopped")


def _say(line: str) -> None:
    sys.stdout.write(f"{stamp()} {line}\n")
    sys.stdout.flush()


@app.command("status")
def status(ctx: typer.Context, fmt: str = FORMAT_OPTION) -> None:
    """Every job and reconciler with its last and next run and its failures, and the leader."""
    context.check_choice(fmt, ("text", "json"), "--format")
    plan = runner.load()
    now = datetime.now(UTC)
    with context.workspace(ctx) as ws:
        leads = leader.someone_leads(ws.engine, ws.settings.home, ws.name)
        with ws.read() as session:
            entries = schedule.describe(session, plan, now)
    if fmt == "json":
        print_json({"leader": leads, "jobs": entries})
        return
    console.print(f"worker: {'leading' if leads else 'none running'}", markup=False)
    for e in entries:
        failures = f", {e['failures']} failed" if e["failures"] else ""
        last = f"last {e['last_run']} {e['last_result']}" if e["last_run"] else "never run"
        nxt = "paused" if e["paused"] else (f"next {e['next_run']}" if e.get("next_run") else "")
        line = f"{e['name']}  {_when(e)}  {last}{failures}  {nxt}".rstrip()
        console.print(line, markup=False)
        if e["last_result"] == "failed" and e["last_error"]:
            console.print(f"    error: {e['last_error']}", markup=False)


def _when(entry: dict) -> str:
    if entry["kind"] == "job":
        return f"{entry['cron']} ({entry['timezone']})"
    return f"every {entry['every']:g} s"


@schedule_app.command("list")
def list_jobs(ctx: typer.Context, fmt: str = FORMAT_OPTION) -> None:
    """Every declared job and reconciler: schedule, time zone, next run, last result."""
    context.check_choice(fmt, ("text", "json"), "--format")
    plan = runner.load()
    with context.workspace(ctx) as ws, ws.read() as session:
        entries = schedule.describe(session, plan, datetime.now(UTC))
    if fmt == "json":
        print_json(entries)
        return
    for e in entries:
        nxt = "paused" if e["paused"] else e.get("next_run") or "each pass"
        result = e["last_result"] or "never run"
        console.print(f"{e['name']}  {_when(e)}  next {nxt}  last {result}", markup=False)


@schedule_app.command("show")
def show(
    ctx: typer.Context, name: str = typer.Argument(..., metavar="JOB"), fmt: str = FORMAT_OPTION
):
    """One job: its schedule, state and recent slots."""
    context.check_choice(fmt, ("text", "json"), "--format")
    plan = runner.load()
    with context.workspace(ctx) as ws, ws.read() as session:
        entry = schedule.show(session, plan, name, datetime.now(UTC))
    if fmt == "json":
        print_json(entry)
        return
    for key in ("name", "kind", "package", "description"):
        console.print(f"{key}: {entry[key]}", markup=False)
    console.print(f"schedule: {_when(entry)}", markup=False)
    for key in ("paused", "next_run", "last_run", "last_result", "last_error", "runs", "failures"):
        if entry.get(key) is not None:
            console.print(f"{key.replace('_', ' ')}: {entry[key]}", markup=False)
    for run in entry["recent"]:
        text = run["error"] if run["result"] == "failed" else run["summary"]
        console.print(
            f"  {run['slot']} {run['result']}" + (f": {text}" if text else ""), markup=False
        )


def _pause(ctx: typer.Context, name: str, as_user: str | None, paused: bool, fmt: str) -> None:
    plan = runner.load()

    def here(ws, who) -> None:
        with ws.write(who) as session:
            schedule.set_paused(session, who, plan, name, paused)

    def through_api(settings) -> None:
        verb = "pause" if paused else "resume"
        remote.call(settings, "POST", f"/api/v1/schedule/{quote(name, safe='')}/{verb}")

    context.change(ctx, as_user, remote=through_api, local=here)
    context.output(
        fmt,
        {"job": name, "paused": paused},
        lambda: console.print(f"{name} {'paused' if paused else 'resumed'}", markup=False),
    )


@schedule_app.command("pause")
def pause(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="JOB"),
    as_user: str | None = AS_OPTION,
    fmt: str = FORMAT_OPTION,
) -> None:
    """Stop running a job until it is resumed (stored: every worker keeps it)."""
    _pause(ctx, name, as_user, True, fmt)


@schedule_app.command("resume")
def resume(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="JOB"),
    as_user: str | None = AS_OPTION,
    fmt: str = FORMAT_OPTION,
) -> None:
    """Run a paused job again; its newest missed slot runs once."""
    _pause(ctx, name, as_user, False, fmt)
