"""`keel release`: model releases, each with its signed attestations."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import typer
from rich.markup import escape

from keel.cli import context, remote
from keel.cli.context import AS_OPTION, FORMAT_OPTION, RELEASE_ARGUMENT, console, print_json
from keel.errors import InputError, UsageError
from keel.pipeline import approvals, promotion, releases, reviews
from keel.pipeline.testreports import read_benchmarks, read_junit

app = typer.Typer(help="Model releases and their signed attestations.", no_args_is_help=True)


@app.command()
def create(
    ctx: typer.Context,
    system: str = typer.Argument(..., metavar="SYSTEM", help="The system the model belongs to."),
    model: str = typer.Option(
        ..., "--model", metavar="REF", help="The model (name or model:ns/name)."
    ),
    artifact: Path = typer.Option(
        ...,
        "--artifact",
        metavar="PATH",
        help="The built model: a file, or a folder hashed as a whole.",
    ),
    run: str | None = typer.Option(
        None,
        "--run",
        metavar="RUN",
        help="The pipeline run that built it: its evidence and its datasets' digests count.",
    ),
    data: list[str] = typer.Option(
        [],
        "--data",
        metavar="REF=PATH",
        help="Training data of an upstream DataSource, to pin by digest. Repeatable.",
    ),
    commit: str | None = typer.Option(
        None,
        "--commit",
        metavar="SHA",
        help="The code commit built (default: HEAD of the git repository here, if any).",
    ),
    repository: str | None = typer.Option(
        None, "--repository", metavar="URL", help="Where the code lives."
    ),
    param: list[str] = typer.Option(
        [],
        "--param",
        metavar="KEY=VALUE",
        help="A build parameter (JSON values allowed). Repeatable.",
    ),
    tests: list[Path] = typer.Option(
        [], "--tests", metavar="JUNIT.xml", help="A JUnit XML test report. Repeatable."
    ),
    bench: list[Path] = typer.Option(
        [], "--bench", metavar="FILE.json", help="Benchmark figures (JSON). Repeatable."
    ),
    log: list[Path] = typer.Option(
        [], "--log", metavar="FILE", help="A build log, recorded by digest. Repeatable."
    ),
    started: str | None = typer.Option(
        None, "--started", metavar="TIME", help="When the build started (ISO 8601)."
    ),
    finished: str | None = typer.Option(
        None, "--finished", metavar="TIME", help="When the build finished (ISO 8601)."
    ),
    out: Path | None = typer.Option(
        None,
        "--out",
        "-o",
        metavar="FILE",
        help="Also write the attestation bundle here (.intoto.jsonl).",
    ),
    fmt: str = FORMAT_OPTION,
    as_user: str | None = AS_OPTION,
) -> None:
    """Release the next version of a model: sign its SLSA provenance and release statements."""
    build = releases.Build(
        artifact=artifact,
        run=run,
        data=dict(_pairs(data, "--data", lambda ref, path: (_ref_key(ref), Path(path)))),
        commit=commit or _git_head(),
        repository=repository,
        parameters=dict(_pairs(param, "--param", lambda k, v: (k, _value(v)))),
        tests=[read_junit(p) for p in tests],
        benchmarks=[b for p in bench for b in read_benchmarks(p)],
        logs=list(log),
        started_on=_time(started, "--started"),
        finished_on=_time(finished, "--finished"),
    )
    who = context.actor(ctx, as_user)
    with context.workspace(ctx) as ws, ws.write(who) as session:
        release = releases.create_release(session, who, ws.signer(), system, model, build)
    if out:
        out.write_bytes(release.bundle)
    if fmt == "json":
        print_json(
            {
                **release.summary(),
                "release": release.short_name,
                "bundle": str(out) if out else None,
            }
        )
        return
    console.print(
        f"released [bold]{escape(release.short_name)}[/] ({release.artifact_digest})",
        soft_wrap=True,
    )
    console.print(
        "  attestations: SLSA provenance v1 + Keel release v1, signed"
        + (
            f"; written to {escape(str(out))}"
            if out
            else f"; `keel attest get {escape(release.short_name)} -o FILE`"
        )
    )


@app.command("list")
def list_(
    ctx: typer.Context,
    system: str | None = typer.Argument(
        None, metavar="[SYSTEM]", help="Only this system's releases."
    ),
    fmt: str = FORMAT_OPTION,
) -> None:
    """List releases, oldest first."""
    with context.workspace(ctx) as ws, ws.read() as session:
        found = releases.list_releases(session, system)
    if fmt == "json":
        print_json([r.summary() for r in found])
        return
    if not found:
        console.print("no releases yet", markup=False)
    for r in found:
        console.print(
            f"{r.short_name:32} {r.created_at[:19]}  {r.created_by:28} {r.artifact_digest[:19]}…",
            markup=False,
        )


@app.command()
def show(
    ctx: typer.Context,
    release: str = RELEASE_ARGUMENT,
    fmt: str = FORMAT_OPTION,
) -> None:
    """Show a release: its artifact, what its attestations say, and what it rests on."""
    with context.workspace(ctx) as ws, ws.read() as session:
        found = releases.get_release(session, release)
        status = promotion.status(session, found)
    statements = {s["predicateType"]: s["predicate"] for s in found.statements()}
    if fmt == "json":
        print_json({**found.summary(), **status, "statements": statements})
        return
    console.print(f"[bold]{escape(found.short_name)}[/] of {escape(found.system or '-')}")
    console.print(
        f"  artifact      {escape(found.artifact)} {found.artifact_digest}", soft_wrap=True
    )
    console.print(f"  created       {found.created_at} by {escape(found.created_by)}")
    for row in status["evidence"]:
        counts = "" if row["counts"] else f" [red]does not count[/]: {escape(row['note'])}"
        console.print(
            f"  evidence      {row['track']}.{escape(row['check'])}: {row['result']} "
            f"({row['createdAt'][:19]}){counts}"
        )
    for row in status["approvals"]:
        unproven = "" if row["proven"] else " [yellow]local identity, unproven[/]"
        console.print(
            f"  approved      {escape(row['approver'])} as {row['role']} "
            f"({row['createdAt'][:19]}){unproven}"
        )
    for row in status["review"]["rejections"]:
        console.print(
            f"  [red]rejected[/]      {escape(row['rejecter'])} as {row['role']} "
            f"({row['createdAt'][:19]}): {escape(row['reason'])}"
        )
    for row in status["serves"]:
        console.print(f"  serves        {row}")
    for predicate_type, predicate in statements.items():
        console.print(f"  [dim]{escape(predicate_type)}[/]")
        if "buildDefinition" in predicate:
            for dep in predicate["buildDefinition"].get("resolvedDependencies", []):
                digest = (
                    ", ".join(f"{a}:{v[:12]}…" for a, v in dep.get("digest", {}).items()) or "-"
                )
                console.print(
                    f"    rests on    {escape(dep.get('name', dep.get('uri', '?')))} {digest}"
                )
        else:
            for t in predicate["tests"]:
                console.print(
                    f"    tests       {escape(t['name'])}: {t['passed']} passed, {t['failed']} failed, {t['errors']} errors"
                )
            for b in predicate["benchmarks"]:
                console.print(
                    f"    figure      {escape(b['name'])} = {b['value']:g} {escape(b.get('unit', ''))}"
                )
            console.print(
                f"    approvals   {len(predicate['approvals'])}; evidence {len(predicate['evidence'])}; events {len(predicate['events'])}"
            )
    for env, gaps in status["missing"].items():
        if not gaps:
            console.print(f"  [green]{env}: ready[/]")
            continue
        console.print(f"  [red]{env}: missing {len(gaps)}[/]")
        for gap in gaps:
            console.print(f"    {escape(gap)}")


@app.command()
def approve(
    ctx: typer.Context,
    release: str = RELEASE_ARGUMENT,
    role: str = typer.Option(
        ...,
        "--role",
        metavar="ROLE",
        help="The pod role you approve as (riskLead, dataSteward, mlEngineer, ...).",
    ),
    comment: str = typer.Option("", "--comment", help="Why, or on what terms."),
    fmt: str = FORMAT_OPTION,
    as_user: str | None = AS_OPTION,
) -> None:
    """Approve a release in a role you hold in its system's pod."""
    path = f"/api/v1/releases/{quote(release)}/approvals"
    done = context.decide(
        ctx,
        as_user,
        remote=lambda settings: remote.call(
            settings, "POST", path, {"role": role, "comment": comment}
        ),
        refused="pipeline.approval.refused",
        subject=release,
        work=lambda session, who, _: approvals.approve(
            session, who, release, role, comment
        ).summary(),
    )
    context.output(
        fmt,
        done,
        lambda: console.print(
            f"{escape(done['approver'])} approved {escape(release)} as {escape(role)}"
        ),
    )


@app.command("request-approval")
def request_approval(
    ctx: typer.Context,
    release: str = RELEASE_ARGUMENT,
    note: str = typer.Option("", "--note", help="What the approvers should look at."),
    fmt: str = FORMAT_OPTION,
    as_user: str | None = AS_OPTION,
) -> None:
    """Ask the pod members who hold the roles its policies need to decide on a release.

    Opens a new review round; a rejected role is asked again (its rejection stands until it
    approves). Subscriptions on `approval-requested` deliver the request with a link."""
    path = f"/api/v1/releases/{quote(release)}/approval-requests"
    done = context.decide(
        ctx,
        as_user,
        remote=lambda settings: remote.call(settings, "POST", path, {"note": note}),
        refused="pipeline.approval_request.refused",
        subject=release,
        work=lambda session, who, _: reviews.request_approval(
            session, who, release, note
        ).summary(),
    )

    def text() -> None:
        asked = done["requested"]
        console.print(f"approval of {escape(release)} requested as {', '.join(asked['roles'])}")
        for person in asked["recipients"]:
            console.print(f"  {escape(person['user'])} ({person['role']})")
        if not asked["recipients"]:
            console.print("  [yellow]nobody in the pod holds these roles[/]")

    context.output(fmt, done, text)


@app.command()
def reject(
    ctx: typer.Context,
    release: str = RELEASE_ARGUMENT,
    role: str = typer.Option(
        ..., "--role", metavar="ROLE", help="The pod role you decide as (riskLead, ...)."
    ),
    reason: str = typer.Option(..., "--reason", help="Why: shown wherever the release is."),
    fmt: str = FORMAT_OPTION,
    as_user: str | None = AS_OPTION,
) -> None:
    """Reject a release in a role you hold; it cannot be promoted until someone in that role
    approves again (`request-approval` asks them)."""
    path = f"/api/v1/releases/{quote(release)}/rejections"
    done = context.decide(
        ctx,
        as_user,
        remote=lambda settings: remote.call(
            settings, "POST", path, {"role": role, "reason": reason}
        ),
        refused="pipeline.rejection.refused",
        subject=release,
        work=lambda session, who, _: reviews.reject(session, who, release, role, reason).summary(),
    )
    context.output(
        fmt,
        done,
        lambda: console.print(
            f"{escape(done['rejecter'])} rejected {escape(release)} as {escape(role)}"
        ),
    )


@app.command()
def promote(
    ctx: typer.Context,
    release: str = RELEASE_ARGUMENT,
    to: str = typer.Option(..., "--to", metavar="ENV", help="staging or production."),
    fmt: str = FORMAT_OPTION,
    as_user: str | None = AS_OPTION,
) -> None:
    """Promote a release; refused (exit 1, logged) with the list of what is missing."""
    path = f"/api/v1/releases/{quote(release)}/promote"
    decision = context.decide(
        ctx,
        as_user,
        remote=lambda settings: promotion.Decision.from_dict(
            remote.decision(
                settings,
                path,
                {"to": to},
                lambda missing: {
                    "release": release,
                    "environment": to,
                    "missing": [{"requirement": "", "reason": m} for m in missing],
                },
            )
        ),
        refused="pipeline.promotion.refused",
        subject=release,
        work=lambda session, who, ws: promotion.promote(session, who, ws.signer(), release, to),
    )
    if fmt == "json":
        print_json(decision.as_dict())
    elif decision.allowed:
        replaced = (
            f" (replaces {decision.previous}, kept as the rollback target)"
            if decision.previous
            else ""
        )
        console.print(f"{escape(release)} now serves {to}{escape(replaced)}")
    else:
        console.print(f"[red]refused[/]: {escape(release)} cannot go to {to}; missing:")
        for gap in decision.missing:
            console.print(f"  {escape(str(gap))}")
    raise typer.Exit(0 if decision.allowed else 1)


@app.command()
def where(
    ctx: typer.Context,
    system: str = typer.Argument(..., metavar="SYSTEM", help="The system."),
    at: str | None = typer.Option(
        None, "--at", metavar="TIME", help="At this past time (ISO 8601, UTC if no zone)."
    ),
    fmt: str = FORMAT_OPTION,
) -> None:
    """Which release each environment serves (or served at --at), per model."""
    with context.workspace(ctx) as ws, ws.read() as session:
        found = promotion.where(session, system, at=at)
    if fmt == "json":
        print_json(found)
        return
    if not found:
        console.print("nothing promoted" + (f" at {at}" if at else ""), markup=False)
    for row in found:
        back = f"  rollback to {row['previous'].split('/', 1)[1]}" if row["previous"] else ""
        console.print(
            f"{row['environment']:11} {row['release'].split('/', 1)[1]:30} since {row['since'][:19]}{back}",
            markup=False,
        )


def _pairs(items, option, convert):
    out = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise UsageError(f"{option} {item!r}: write KEY=VALUE")
        out.append(convert(key, value))
    return out


def _ref_key(ref: str) -> str:
    from keel.catalog.refs import key_of

    try:
        return key_of(ref, default_kind="datasource")
    except ValueError as exc:
        raise UsageError(f"--data {ref!r}: {exc}") from None


def _value(text: str):
    """A parameter's value: JSON when it parses as JSON (finite numbers only), else text."""
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return text
    try:
        json.dumps(value, allow_nan=False)
    except ValueError:
        raise UsageError(f"--param {text!r}: numbers must be finite") from None
    return value


def _time(text: str | None, option: str) -> str | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
    except (ValueError, OverflowError):
        raise InputError(f"{option} {text!r}: not an ISO 8601 time") from None


def _git_head() -> str | None:
    """The commit checked out here, if this is a git repository with no uncommitted changes."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    if dirty:
        context.warn(
            "uncommitted changes here: the commit is not recorded; pass --commit to name one"
        )
        return None
    return head
