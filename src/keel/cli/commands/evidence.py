"""`keel evidence`: record a check's outcome from any pipeline (Airflow, CI, ...), and list it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import get_args

import typer
from rich.markup import escape

from keel.cli import context, remote
from keel.cli.context import AS_OPTION, FORMAT_OPTION, console, print_json, warn
from keel.errors import InputError, UsageError
from keel.pipeline import attach, runs
from keel.pipeline.evidence import RESULTS, evidence_for
from keel.pipeline.policy_kind import Track
from keel.pipeline.releases import get_release

TRACKS: tuple[str, ...] = get_args(Track)

app = typer.Typer(
    help="Evidence: the recorded outcome of each pipeline check.", no_args_is_help=True
)


@app.command()
def add(
    ctx: typer.Context,
    system: str = typer.Argument(..., metavar="SYSTEM", help="The system the check belongs to."),
    run: str | None = typer.Option(None, "--run", metavar="RUN", help="The run it belongs to."),
    release: str | None = typer.Option(
        None, "--release", metavar="MODEL@N", help="Or the release."
    ),
    file: Path | None = typer.Option(
        None,
        "--file",
        "-f",
        metavar="FILE",
        help="The evidence as JSON ({track, check, result, figures, inputs, thresholds, log}).",
    ),
    track: str | None = typer.Option(
        None,
        "--track",
        **context.one_of(TRACKS, "--track"),
        help="data, model, feature, eval or deploy.",
    ),
    check: str | None = typer.Option(None, "--check", help="The check's name, e.g. fairness."),
    result: str | None = typer.Option(
        None, "--result", **context.one_of(RESULTS, "--result"), help="pass, fail or error."
    ),
    figure: list[str] = typer.Option(
        [], "--figure", metavar="NAME=NUMBER", help="A measured figure. Repeatable."
    ),
    input_: list[str] = typer.Option(
        [], "--input", metavar="NAME=DIGEST", help="What was checked, by digest. Repeatable."
    ),
    log: list[str] = typer.Option(
        [], "--log", metavar="LINE", help="A line of the check's log. Repeatable."
    ),
    fmt: str = FORMAT_OPTION,
    as_user: str | None = AS_OPTION,
) -> None:
    """Record one check's outcome for a run or a release.

    Under separation of duties, what a release's author records on it does not count toward
    its promotion: recorded all the same, with a warning.
    """
    if file is not None:
        if track or check or result or figure or input_ or log:
            raise UsageError("give the evidence as --file or as options, not both")
        try:
            data = json.loads(file.read_text())
        except FileNotFoundError:
            raise UsageError(f"{file}: no such file") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"{file}: not JSON ({exc})") from None
    else:
        data = {
            "track": track,
            "check": check,
            "result": result,
            "figures": dict(_pair(f, "--figure", _number) for f in figure),
            "inputs": dict(_pair(i, "--input", lambda v, _: v) for i in input_),
            "log": log,
        }

    def here(ws, who) -> dict:
        with ws.write(who) as session:
            return attach.add_evidence(
                session, who, system, data, run_id=run, release=release
            ).summary()

    body = {"system": system, "run": run, "release": release, "evidence": data}
    shown = context.change(  # a CI job with a token goes through the control plane
        ctx,
        as_user,
        remote=lambda settings: remote.call(settings, "POST", "/api/v1/evidence", body),
        local=here,
    )
    if shown.get("counts") is False:
        warn(escape(shown["note"]))
    context.output(
        fmt,
        shown,
        lambda: console.print(
            f"recorded {shown['track']}.{shown['check']}: {shown['result']} "
            f"({shown['digest'][:19]}…, event #{shown['event']})",
            markup=False,
        ),
    )


@app.command("list")
def list_(
    ctx: typer.Context,
    release: str | None = typer.Option(None, "--release", metavar="MODEL@N"),
    run: str | None = typer.Option(None, "--run", metavar="RUN"),
    fmt: str = FORMAT_OPTION,
) -> None:
    """A release's evidence (its own and its run's), or a run's."""
    if (release is None) == (run is None):
        raise UsageError("name a --release or a --run")
    with context.workspace(ctx) as ws, ws.read() as session:
        if release:
            found_release = get_release(session, release)
            found = evidence_for(session, release=found_release.name, run_id=found_release.run)
        else:
            found = evidence_for(session, run_id=runs.get_run(session, run).id)
    if fmt == "json":
        print_json([e.summary() for e in found])
        return
    for e in found:
        figures = ", ".join(f"{k}={v:.4g}" for k, v in sorted(e.figures.items())[:4])
        console.print(
            f"{e.created_at[:19]}  {e.track}.{escape(e.check):18} {e.result:5} {escape(figures)}"
        )


def _pair(text: str, option: str, convert):
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise UsageError(f"{option} {text!r}: write NAME=VALUE")
    return key, convert(value, option)


def _number(text: str, option: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise UsageError(f"{option}: {text!r} is not a number") from None
