"""The `keel` entry point: wires the command modules and turns errors into one line each.

Commands load lazily: `COMMANDS` names each command's module, the object in it (a command
function or a Typer group) and its one-line help, so `keel --help` and shell completion list
every command without importing any, and `keel ready ...` imports only what `ready` needs.
A test checks that each line here is the loaded command's own short help.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import typer
from typer import _click as click  # the Click that Typer vendors and builds its commands on
from typer.core import TyperCommand, TyperGroup

from keel.version import __version__

MARKUP = None  # plain Click help: fast, and nothing in a help text is read as markup
WIDTH = 100  # help wraps at the terminal's width, up to this

COMMANDS: dict[str, tuple[str, str, str]] = {
    "init": ("workspace", "init", "Create or upgrade the workspace; safe to re-run."),
    "apply": ("catalog", "apply", "Apply catalog YAML: all or nothing, idempotent."),
    "export": ("catalog", "export", "Write the catalog as YAML that re-applies as is."),
    "serve": ("serve", "serve", "Run the control plane: API at /api/v1, web UI at /."),
    "login-link": (
        "token",
        "login_link",
        "Print a one-time browser login link (valid 10 minutes).",
    ),
    "gateway": (
        "gateway",
        "gateway",
        "Run the gateway: the OpenAI-compatible data plane (keys, routes, limits, traffic log).",
    ),
    "serve-model": (
        "gateway",
        "serve_model",
        "Serve the demo's models: *.skops on /v1/predict, the support index on /v1/chat and "
        "/v1/embeddings (an OpenAI-compatible upstream for the gateway).",
    ),
    "demo": ("demo", "demo", "Build the demo workspace and tour it."),
    "ready": (
        "readiness",
        "ready",
        "Score a system's readiness to scale: five dimensions, each finding with its cost and fix.",
    ),
    "review": (
        "readiness",
        "review",
        "Clear a privacy, legal or security review of a system, as its named reviewer.",
    ),
    "workspace": ("workspace", "app", "Inspect the workspace or switch it to server mode."),
    "map": ("map", "app", "The system map: validate, impact, show."),
    "pod": ("pod", "app", "Delivery pods: who holds each role of a system."),
    "audit": ("audit", "app", "The audit record of every change and decision."),
    "release": ("release", "app", "Model releases and their signed attestations."),
    "attest": (
        "attest",
        "app",
        "Release attestations: verify them (offline too), export them, and the ML-BOM.",
    ),
    "evidence": ("evidence", "app", "Evidence: the recorded outcome of each pipeline check."),
    "pipeline": (
        "pipeline",
        "app",
        "Run pipeline files locally (Keel records, it does not orchestrate).",
    ),
    "guard": ("guard", "app", "Guard scanners: injection, PII, secrets, invisible characters."),
    "token": ("token", "app", "API tokens: create (shown once), list, revoke."),
    "route": ("gateway", "route_app", "Gateway routes: endpoint x environment -> upstream."),
    "key": ("gateway", "key_app", "Gateway API keys: create (shown once), list, revoke."),
    "stage": ("readiness", "stage_app", "Lifecycle stages: design, build, validate, operate."),
    "worker": (
        "worker",
        "app",
        "Run the control plane's background work: schedules and reconcilers.",
    ),
    "schedule": ("worker", "schedule_app", "The jobs packages declare: list, show, pause, resume."),
    "incident": ("incident", "app", "Incidents: open, move forward, note, resolve."),
    "notify": (
        "notify",
        "app",
        "Notifications: subscribe webhooks and e-mail addresses to events.",
    ),
}


class _Listed(TyperCommand):
    """A command as `--help` and completion list it: its name and short help, nothing loaded."""

    def __init__(self, name: str, short_help: str):
        super().__init__(name=name, short_help=short_help, help=short_help)


def load(name: str) -> click.Command:
    """The real Click command for `name`, importing its module."""
    module, attribute, _ = COMMANDS[name]
    found = getattr(importlib.import_module(f"keel.cli.commands.{module}"), attribute)
    if isinstance(found, typer.Typer):
        found.rich_markup_mode, found._add_completion = MARKUP, False  # the root's choices
        command = typer.main.get_group(found)  # a group even with one command (pod show)
    else:
        single = typer.Typer(rich_markup_mode=MARKUP, add_completion=False)
        single.command(name)(found)
        command = typer.main.get_command(single)
    command.name = name
    return command


class LazyGroup(TyperGroup):
    """The root group: lists `COMMANDS` as they are, loads one when it runs."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        if cmd_name in COMMANDS:
            return _Listed(cmd_name, COMMANDS[cmd_name][2])
        return None

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name, command, rest = super().resolve_command(ctx, args)
        if isinstance(command, _Listed) and name is not None:
            command = self.commands[name] = load(name)
        return name, command, rest


app = typer.Typer(
    name="keel",
    cls=LazyGroup,
    help="Keel: take AI systems from pilot to durable, governed production.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=MARKUP,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": WIDTH},
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
    from keel.cli.context import State

    ctx.obj = State(home=home)


def group() -> click.Group:
    """The whole `keel` command tree, every command loaded (for tests and documentation)."""
    built: Any = typer.main.get_command(app)
    for name in COMMANDS:
        built.commands[name] = load(name)
    return built


def run(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code; a KeelError prints as `error: ...` lines."""
    from keel.cli.context import invoke

    return invoke(app, argv)


def main() -> None:
    sys.exit(run())
