"""`keel map`: validate the four questions, walk the impact of a failure, draw the map."""

from __future__ import annotations

from itertools import groupby

import typer
from rich.markup import escape

from keel.catalog.graph import load_graph
from keel.catalog.impact import impact as impact_of
from keel.catalog.render import FORMATS, map_view, render
from keel.catalog.validate import validate as validate_map
from keel.cli import context
from keel.cli.context import FORMAT_OPTION, console, print_json

app = typer.Typer(help="The system map: validate, impact, show.", no_args_is_help=True)

SYSTEM_OPTION = typer.Option(None, "--system", "-s", metavar="SYSTEM", help="Only this system.")


def _system_key(graph, system: str | None) -> str | None:
    return None if system is None else graph.resolve_system(system).key


@app.command()
def validate(
    ctx: typer.Context,
    system: str | None = SYSTEM_OPTION,
    fmt: str = FORMAT_OPTION,
) -> None:
    """Report unanswered questions per node; exit 1 if any.

    Owner, lineage, governance and rollback per node, plus dangling references, dependency
    cycles and nodes no business outcome depends on. Exit 0 clean, 1 findings, 2 bad input.
    """
    with context.workspace(ctx) as ws, ws.read() as session:
        graph = load_graph(session)
        report = validate_map(graph, system=_system_key(graph, system))
    if fmt == "json":
        print_json(report.as_dict())
    else:
        for subject, findings in groupby(report.findings, key=lambda f: f.subject):
            console.print(f"[bold]{escape(subject)}[/]")
            for f in findings:
                console.print(f"  [red]{f.check:10}[/] {escape(f.message)}")
        counts = ", ".join(f"{n} {c}" for c, n in report.summary().items() if n)
        verdict = "clean" if report.clean else f"{len(report.findings)} findings ({counts})"
        console.print(f"{report.nodes} entities checked: {verdict}", markup=False)
    raise typer.Exit(0 if report.clean else 1)


@app.command()
def impact(
    ctx: typer.Context,
    ref: str = typer.Argument(..., metavar="REF", help="kind:namespace/name, or a unique name."),
    direction: str = typer.Option("down", "--direction", "-d", help="down, up or both."),
    fmt: str = FORMAT_OPTION,
) -> None:
    """What a failure reaches (down) or comes from (up).

    Downstream: every dependant with its owner, and the business outcomes at risk.
    Upstream: every node a failure may come from.
    """
    context.check_choice(direction, ("down", "up", "both"), "--direction")
    with context.workspace(ctx) as ws, ws.read() as session:
        result = impact_of(session, ref, direction)  # type: ignore[arg-type]
    if fmt == "json":
        print_json(result.as_dict())
        return
    console.print(f"[bold]{escape(result.root)}[/] (owner {escape(result.owner or 'none')})")
    for way, label in (("down", "downstream: fails with it"), ("up", "upstream: may fail it")):
        if direction not in (way, "both"):
            continue
        reached = [r for r in result.reached if r.direction == way]
        console.print(f"{label} ({len(reached)})", markup=False)
        for r in reached:
            missing = " [red](missing)[/]" if not r.exists else ""
            console.print(
                f"  {'  ' * (r.depth - 1)}{escape(r.key)}{missing}  [dim]owner {escape(r.owner or 'none')}[/]"
            )
    if direction in ("down", "both"):
        outcomes = ", ".join(result.outcomes_at_risk) or "none"
        console.print(f"business outcomes at risk: {outcomes}", markup=False)
        console.print(f"owners to call: {', '.join(result.owners) or 'none'}", markup=False)


@app.command()
def show(
    ctx: typer.Context,
    fmt: str = typer.Option("mermaid", "--format", help="mermaid, dot or json."),
    system: str | None = SYSTEM_OPTION,
) -> None:
    """Draw the map as Mermaid, dot or JSON."""
    context.check_choice(fmt, FORMATS, "--format")
    with context.workspace(ctx) as ws, ws.read() as session:
        graph = load_graph(session)
        view = map_view(graph, _system_key(graph, system))
    print(render(view, fmt))
