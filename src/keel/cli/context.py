"""What every command needs: the settings, the workspace, the actor, and output helpers.

`change` is the one place a command picks where a change goes: through the control plane
when KEEL_URL and KEEL_TOKEN are set (as the token's user), else to the local workspace as
the local actor.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any, TypeVar

import typer
from rich.console import Console

from keel.cli import remote as remote_api
from keel.config import Settings, load_settings
from keel.errors import InputError, KeelError
from keel.identity import Actor, local_actor
from keel.workspace import Workspace, open_workspace

T = TypeVar("T")
console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)

AS_OPTION = typer.Option(
    None,
    "--as",
    metavar="USER",
    help="Act as this user (user:NAME); default KEEL_USER, then your login name.",
)
FORMAT_HELP = "Output format."
RELEASE_ARGUMENT = typer.Argument(..., metavar="MODEL@N", help="The release, e.g. credit-scorer@1.")


@dataclass
class State:
    home: str | None = None

    def settings(self) -> Settings:
        return load_settings(self.home)


def state(ctx: typer.Context) -> State:
    return ctx.ensure_object(State)


@contextmanager
def workspace(ctx: typer.Context) -> Iterator[Workspace]:
    ws = open_workspace(state(ctx).settings())
    try:
        yield ws
    except BaseException:
        with suppress(KeelError):  # still sign what was committed; the first error shows
            ws.close()
        raise
    ws.close()  # signs the log's tail if the command appended: before it exits, every time


def actor(ctx: typer.Context, as_user: str | None) -> Actor:
    return local_actor(as_user, state(ctx).settings().user)


def change(
    ctx: typer.Context,
    as_user: str | None,
    *,
    remote: Callable[[Settings], T],
    local: Callable[[Workspace, Actor], T],
) -> T:
    """`remote(settings)` through the control plane when the CLI is its client, else
    `local(workspace, actor)` on the workspace, as `--as` (or KEEL_USER, or the login)."""
    settings = state(ctx).settings()
    if remote_api.enabled(settings):
        return remote(settings)
    who = actor(ctx, as_user)
    with workspace(ctx) as ws:
        return local(ws, who)


def invoke(command: Callable[..., Any], argv: list[str] | None) -> int:
    """Run a command group (the `keel` app, or `ctx.find_root().command` from inside a command)
    and return its exit code; a KeelError prints as `error: ...` lines."""
    try:
        command(args=argv, prog_name="keel")
    except SystemExit as exc:  # Typer ends every run, good or bad, this way
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except KeelError as exc:
        lines = exc.problems if isinstance(exc, InputError) else [str(exc)]
        sys.stderr.write("".join(f"error: {line}\n" for line in lines))
        return exc.exit_code
    return 0


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True) + "\n")


def warn(message: str) -> None:
    err_console.print(f"[yellow]warning:[/] {message}", soft_wrap=True)


def check_choice(value: str, choices: tuple[str, ...], option: str) -> str:
    if value not in choices:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(choices)}", param_hint=option)
    return value
