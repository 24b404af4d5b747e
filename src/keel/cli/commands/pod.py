"""`keel pod`: a system's delivery pod and its gaps."""

from __future__ import annotations

import typer
from rich.markup import escape

from keel.catalog.pods import pod_report
from keel.cli import context
from keel.cli.context import FORMAT_OPTION, console, print_json

app = typer.Typer(help="Delivery pods: who holds each role of a system.", no_args_is_help=True)


@app.command()
def show(
    ctx: typer.Context,
    system: str = typer.Argument(
        ..., metavar="SYSTEM", help="The system (name or system:ns/name)."
    ),
    fmt: str = FORMAT_OPTION,
) -> None:
    """Show a system's pod and its gaps; exit 1 if any."""
    with context.workspace(ctx) as ws, ws.read() as session:
        report = pod_report(session, system)
    if fmt == "json":
        print_json(report.as_dict())
    else:
        console.print(f"[bold]{escape(report.title)}[/] ({escape(report.system)})")
        for role, people in report.roles.items():
            shown = (
                ", ".join(
                    escape(p.name or p.ref) + ("" if p.exists else " [red](unknown user)[/]")
                    for p in people
                )
                or "[red]-[/]"
            )
            console.print(f"  {role:15} {shown}")
        for key, value in report.change_plan.items():
            console.print(f"  {key:15} {escape(value) if value else '[red]-[/]'}")
        if report.gaps:
            console.print(f"{len(report.gaps)} gaps:", markup=False)
            for gap in report.gaps:
                console.print(f"  {escape(gap)}")
        else:
            console.print("pod complete", markup=False)
    raise typer.Exit(1 if report.gaps else 0)
