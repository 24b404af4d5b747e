"""`keel ready`, `keel review` and `keel stage`: the readiness check, reviews, lifecycle stages."""

from __future__ import annotations

from urllib.parse import quote

import typer
from rich.markup import escape

from keel.catalog.queries import system_key
from keel.cli import context, remote
from keel.cli.context import AS_OPTION, FORMAT_OPTION, console, print_json
from keel.errors import UsageError
from keel.readiness import reviews, stages
from keel.readiness.scorecard import Minimum, Scorecard, readiness

stage_app = typer.Typer(
    help="Lifecycle stages: design, build, validate, operate.", no_args_is_help=True
)
BAR = 20  # characters in a dimension's bar


def _min_score(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 100:
        raise UsageError(f"--min-score {text!r}: a number from 0 to 100")
    return value


def ready(
    ctx: typer.Context,
    system: str = typer.Argument(
        ..., metavar="SYSTEM", help="The system, e.g. credit-decisioning."
    ),
    fmt: str = FORMAT_OPTION,
    min_score: str | None = typer.Option(
        None,
        "--min-score",
        metavar="N",
        help="Exit 1 below this overall score (default: the policy's readiness.minScore).",
    ),
) -> None:
    """Score a system's readiness to scale: five dimensions, each finding with its cost and fix.

    The overall score is the mean of the five dimension scores (0-100 each). Exit 0 at or
    above the minimum (or when there is none), 1 below it, 2 on bad input.
    """
    gate = _min_score(min_score)
    with context.workspace(ctx) as ws, ws.read() as session:
        card = readiness(session, system)
        stage = stages.current(session, card.system)
    if gate is not None:
        card = card.with_minimum(Minimum(gate, None))
    if fmt == "json":
        print_json({**card.as_dict(), "stage": stage.stage})
    else:
        _print_card(card, stage.stage)
    raise typer.Exit(1 if card.meets_minimum is False else 0)


def _print_card(card: Scorecard, stage: str) -> None:
    console.print(
        f"[bold]{escape(card.title)}[/] ({escape(card.system)}), stage {stage}: "
        f"readiness [bold]{card.score:g}[/]/100 (the mean of five dimensions)"
    )
    for d in card.dimensions:
        filled = round(d.score * BAR / 100)
        console.print(f"  {d.title:20} {d.score:3d}  {'█' * filled}{'░' * (BAR - filled)}")
    if card.findings:
        console.print("findings (points each costs, and the fix):")
    for r in card.findings:
        console.print(f"  [red]-{r.weight:<3d}[/] {escape(r.id)}: {escape(r.message)}")
        console.print(f"        fix: {escape(r.fix)}", soft_wrap=True)
    if card.minimum is not None:
        source = f"policy {card.minimum.policy}" if card.minimum.policy else "--min-score"
        verdict = "[green]met[/]" if card.meets_minimum else "[red]not met[/]"
        console.print(f"minimum {card.minimum.score:g} ({escape(source)}): {verdict}")


def review(
    ctx: typer.Context,
    system: str = typer.Argument(..., metavar="SYSTEM", help="The system reviewed."),
    kind: str | None = typer.Option(
        None,
        "--kind",
        metavar="KIND",
        help="privacy, legal or security: record your review. Without it, list the reviews.",
    ),
    comment: str = typer.Option("", "--comment", help="On what terms, or what was checked."),
    fmt: str = FORMAT_OPTION,
    as_user: str | None = AS_OPTION,
) -> None:
    """Clear a privacy, legal or security review of a system, as its named reviewer.

    The reviewer is spec.reviewers.KIND of the System, or else its pod's riskLead; anyone
    else is refused (exit 3, logged).
    """
    if kind is None:
        with context.workspace(ctx) as ws, ws.read() as session:
            found = reviews.reviews_of(session, system_key(session, system))
        if fmt == "json":
            print_json([r.summary() for r in found])
            return
        if not found:
            console.print("no reviews yet", markup=False)
        for r in found:
            note = f"  {r.comment}" if r.comment else ""
            console.print(f"{r.kind:9} {r.created_at[:19]}  {r.reviewer}{note}", markup=False)
        return
    path = f"/api/v1/systems/{quote(system, safe='')}/reviews"
    done = context.decide(
        ctx,
        as_user,
        remote=lambda settings: remote.call(
            settings, "POST", path, {"kind": kind, "comment": comment}
        ),
        refused="readiness.review.refused",
        subject=reviews.subject_of(system),
        work=lambda session, who, _: reviews.review(session, who, system, kind, comment).summary(),
    )
    context.output(
        fmt,
        done,
        lambda: console.print(
            f"{escape(done['reviewer'])} cleared the {kind} review of {escape(done['system'])}"
        ),
    )


@stage_app.command("show")
def stage_show(
    ctx: typer.Context,
    system: str = typer.Argument(..., metavar="SYSTEM", help="The system."),
    fmt: str = FORMAT_OPTION,
) -> None:
    """The system's lifecycle stage and its exit criteria, met or not."""
    with context.workspace(ctx) as ws, ws.read() as session:
        shown = stages.show(session, system)
    if fmt == "json":
        print_json(shown)
        return
    since = f" since {shown['since'][:19]}" if shown["since"] else ""
    console.print(f"[bold]{escape(shown['system'])}[/]: {shown['stage']} ({shown['title']}){since}")
    label = f"to move on to {shown['next']}" if shown["next"] else "to keep operating"
    console.print(f"{label}:", markup=False)
    _print_criteria(shown["criteria"])


def _print_criteria(found: list[dict]) -> None:
    for c in found:
        mark = "[green]✓[/]" if c["met"] else "[red]✗[/]"
        console.print(f"  {mark} {c['stage']}.{c['id']}: {escape(c['text'])}")
        console.print(f"      {escape(c['detail'])}", soft_wrap=True)


@stage_app.command("advance")
def stage_advance(
    ctx: typer.Context,
    system: str = typer.Argument(..., metavar="SYSTEM", help="The system."),
    to: str | None = typer.Option(
        None, "--to", metavar="STAGE", help="The stage you expect next (refused if it skips)."
    ),
    fmt: str = FORMAT_OPTION,
    as_user: str | None = AS_OPTION,
) -> None:
    """Move the system to its next stage; refused (exit 1, logged) with the unmet criteria."""
    path = f"/api/v1/systems/{quote(system, safe='')}/stage"
    shown = context.decide(
        ctx,
        as_user,
        remote=lambda settings: remote.decision(
            settings,
            path,
            {"to": to},
            lambda missing: {"system": system, "allowed": False, "missing": missing},
        ),
        refused="readiness.advance.refused",
        subject=reviews.subject_of(system),
        work=lambda session, who, _: stages.advance(session, who, system, to).as_dict(),
    )
    if fmt == "json":
        print_json(shown)
    elif shown["allowed"]:
        console.print(f"{escape(shown['system'])} moved from {shown['from']} to {shown['to']}")
    else:
        stays = f" stays in {shown['from']}" if shown.get("from") else " stays"
        console.print(f"[red]refused[/]: {escape(shown['system'])}{stays}; unmet:")
        for c in shown["missing"]:
            console.print(f"  {escape(str(c))}", soft_wrap=True)
    raise typer.Exit(0 if shown["allowed"] else 1)
