"""`keel demo`: build the demo workspace and walk through what Keel shows about it."""

from __future__ import annotations

import shlex
from pathlib import Path

import typer

from keel.demo import build_demo

TOUR = (
    ("Which questions can each node not answer?", ["map", "validate"]),
    (
        "If the credit data source breaks, what fails and who is called?",
        ["map", "impact", "datasource:german-credit"],
    ),
    ("Who is on the support assistant's delivery pod?", ["pod", "show", "support-assistant"]),
    ("The credit system's map, as Mermaid:", ["map", "show", "--system", "credit-decisioning"]),
    ("The last changes, from the audit record:", ["audit", "log", "-n", "5"]),
)


def register(root: typer.Typer) -> None:
    root.command("demo")(demo)


def demo(
    home: Path = typer.Option(
        Path("keel-demo"),
        "--home",
        metavar="DIR",
        help="Where to build the demo workspace (replaced if it is one).",
    ),
) -> None:
    """Build the demo workspace and tour it.

    Two AI systems of a bank (credit decisioning, a support assistant), their teams and
    delivery pods, with a few deliberate gaps for validate and pod show to find.
    """
    from keel.cli.main import run

    built = build_demo(home)
    print(f"Demo workspace built in {built.home}: {len(built.applied.created)} entities applied.\n")
    for question, args in TOUR:
        line = shlex.join(["keel", "--home", str(home), *args])
        print(f"## {question}\n$ {line}")
        run(["--home", str(built.home), *args])
        print()
    print(f"Explore further with: keel --home {shlex.quote(str(home))} --help")
