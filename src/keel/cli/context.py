"""What every command needs: the settings, the workspace, the actor, and output helpers.

`change` is the one place a command picks where a change goes: through the control plane
when KEEL_URL and KEEL_TOKEN are set (as the token's user), else to the local workspace as
the local actor; `decide` is the same for a decision that may be refused with reasons.
`FORMAT_OPTION` and `output` are the one `--format text|json` every printed result offers.

Light on purpose: the entry point imports it for every command, so the workspace, the
store and Rich load when a command first asks for them (`console` is made on first use).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from keel.errors import InputError, KeelError, UsageError

if TYPE_CHECKING:
    from rich.console import Console

    from keel.config import Settings
    from keel.identity import Actor
    from keel.workspace import Workspace

T = TypeVar("T")
_consoles: dict[str, Console] = {}


def __getattr__(name: str) -> Any:
    """`console` (stdout) and `err_console` (stderr): Rich consoles, made on first import."""
    if name not in ("console", "err_console"):
        raise AttributeError(name)
    if name not in _consoles:
        from rich.console import Console

        _consoles[name] = Console(stderr=name == "err_console", highlight=False, soft_wrap=True)
    return _consoles[name]


AS_OPTION = typer.Option(
    None,
    "--as",
    metavar="USER",
    help="Act as this user (user:NAME); default KEEL_USER, then your login name.",
)


def one_of(values: tuple[str, ...], option: str) -> dict[str, Any]:
    """typer.Option settings accepting only `values` for `option` (else one line naming them,
    exit 2), which shell completion offers."""

    def check(value: Any) -> Any:
        for item in value if isinstance(value, list | tuple) else [value]:
            if item is not None and item not in values:
                raise UsageError(f"{option} {item!r}: one of {', '.join(values)}")
        return value

    def complete(incomplete: str) -> list[str]:
        return [v for v in values if v.startswith(incomplete)]

    return {"callback": check, "autocompletion": complete}


FORMATS = ("text", "json")
FORMAT_OPTION = typer.Option(
    "text",
    "--format",
    metavar="FORMAT",
    help="text or json (the result, machine-readable).",
    **one_of(FORMATS, "--format"),
)
JSON_OPTION = typer.Option(False, "--json", hidden=True, help="Same as --format json.")
RELEASE_ARGUMENT = typer.Argument(..., metavar="MODEL@N", help="The release, e.g. credit-scorer@1.")


@dataclass
class State:
    home: str | None = None

    def settings(self) -> Settings:
        from keel.config import load_settings

        return load_settings(self.home)


def state(ctx: typer.Context) -> State:
    return ctx.ensure_object(State)


@contextmanager
def workspace(ctx: typer.Context) -> Iterator[Workspace]:
    from keel.workspace import open_workspace

    ws = open_workspace(state(ctx).settings())
    try:
        yield ws
    except BaseException:
        with suppress(KeelError):  # still sign what was committed; the first error shows
            ws.close()
        raise
    ws.close()  # signs the log's tail if the command appended: before it exits, every time


def actor(ctx: typer.Context, as_user: str | None) -> Actor:
    from keel.identity import local_actor

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
    from keel.cli import remote as remote_api

    settings = state(ctx).settings()
    if remote_api.enabled(settings):
        return remote(settings)
    who = actor(ctx, as_user)
    with workspace(ctx) as ws:
        return local(ws, who)


def decide(
    ctx: typer.Context,
    as_user: str | None,
    *,
    remote: Callable[[Settings], T],
    refused: str,
    subject: str,
    work: Callable[[Any, Actor, Workspace], T],
) -> T:
    """`change` for a decision that may be refused: locally `work(session, actor, workspace)`
    runs under `keel.pipeline.refusals.logged`, so a refusal is an event (`refused`, about
    `subject`) as well as the error the user sees."""
    from keel.pipeline import refusals

    return change(
        ctx,
        as_user,
        remote=remote,
        local=lambda ws, who: refusals.logged(
            ws, who, refused, subject, lambda session: work(session, who, ws)
        ),
    )


def is_json(fmt: str, json_alias: bool = False) -> bool:
    """Whether the result is wanted as JSON: `--format json`, or the older `--json`."""
    return json_alias or fmt == "json"


def output(fmt: str, data: Any, text: Callable[[], None]) -> None:
    """Print a result: `data` as JSON under --format json, else `text()` prints it for people."""
    if fmt == "json":
        print_json(data)
    else:
        text()


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
    __getattr__("err_console").print(f"[yellow]warning:[/] {message}", soft_wrap=True)


def check_choice(value: str, choices: tuple[str, ...], option: str) -> str:
    if value not in choices:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(choices)}", param_hint=option)
    return value
