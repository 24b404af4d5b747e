"""What every command needs: the settings, the workspace, the actor, and output helpers."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

import typer
from rich.console import Console

from keel.config import Settings, load_settings
from keel.errors import KeelError
from keel.identity import Actor, local_actor
from keel.workspace import Workspace, open_workspace

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


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True) + "\n")


def warn(message: str) -> None:
    err_console.print(f"[yellow]warning:[/] {message}", soft_wrap=True)


def check_choice(value: str, choices: tuple[str, ...], option: str) -> str:
    if value not in choices:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(choices)}", param_hint=option)
    return value
