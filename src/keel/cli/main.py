"""The `keel` entry point: wires the command modules and turns errors into one line each."""

from __future__ import annotations

import sys

import typer

from keel.cli.commands import (
    attest,
    audit,
    catalog,
    demo,
    evidence,
    gateway,
    guard,
    map,
    pipeline,
    pod,
    readiness,
    release,
    serve,
    token,
    worker,
    workspace,
)
from keel.cli.context import State, invoke
from keel.version import __version__

app = typer.Typer(
    name="keel",
    help="Keel: take AI systems from pilot to durable, governed production.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        print(f"keel {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    home: str = typer.Option(
        None,
        "--home",
        envvar="KEEL_HOME",
        metavar="DIR",
        help="Workspace folder (default ./.keel).",
    ),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    ctx.obj = State(home=home)


workspace.register(app)
catalog.register(app)
app.add_typer(map.app, name="map")
app.add_typer(pod.app, name="pod")
app.add_typer(audit.app, name="audit")
app.add_typer(release.app, name="release")
app.add_typer(attest.app, name="attest")
app.add_typer(evidence.app, name="evidence")
app.add_typer(pipeline.app, name="pipeline")
app.add_typer(guard.app, name="guard")
serve.register(app)
token.register(app)
gateway.register(app)
demo.register(app)
readiness.register(app)
worker.register(app)


def run(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code; a KeelError prints as `error: ...` lines."""
    return invoke(app, argv)


def main() -> None:
    sys.exit(run())
