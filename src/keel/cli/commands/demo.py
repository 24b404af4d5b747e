"""`keel demo`: build the demo workspace, show what Keel sees in it, and serve it."""

from __future__ import annotations

import shlex
from pathlib import Path

import typer

from keel.cli.commands.serve import DEFAULT_PORT, remember, url_of
from keel.cli.context import invoke

TOUR = (
    ("Which questions can each node not answer?", ["map", "validate"]),
    (
        "If the credit data source breaks, what fails and who is called?",
        ["map", "impact", "datasource:german-credit"],
    ),
    ("Who is on the support assistant's delivery pod?", ["pod", "show", "support-assistant"]),
    (
        "Why may the first credit scorer not go to staging?",
        ["release", "show", "credit-scorer@1"],
    ),
    (
        "Which release serves where, and what is the way back?",
        ["release", "where", "credit-decisioning"],
    ),
    (
        "Does the support assistant's production traffic have a release behind it?",
        ["release", "where", "support-assistant"],
    ),
    (
        "Is credit decisioning ready to scale, and what would raise its score?",
        ["ready", "credit-decisioning"],
    ),
    (
        "Is the model in production the one released, with the evidence and approvals it claims?",
        [
            "attest",
            "verify",
            "{home}/attestations/credit-scorer@2.intoto.jsonl",
            "--artifact",
            "{home}/artifacts/credit-scorer-fair.skops",
        ],
    ),
)


def demo(
    ctx: typer.Context,
    home: Path = typer.Option(
        Path("keel-demo"),
        "--home",
        metavar="DIR",
        help="Where to build the demo workspace: a new or empty folder, or an earlier demo "
        "(replaced).",
    ),
    serve: bool = typer.Option(
        True,
        "--serve/--no-serve",
        help="Serve the web UI afterwards (default), or stop once built.",
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to serve on."),
    port: int = typer.Option(DEFAULT_PORT, "--port", min=1, max=65535, help="Port to serve on."),
) -> None:
    """Build the demo workspace and tour it.

    Two AI systems of a bank (credit decisioning on the German Credit data, a support
    assistant over a shipped knowledge base), trained and indexed here, with their teams,
    delivery pods and a few deliberate gaps for validate and pod show to find. Then serves
    the web UI and prints a one-time login link.
    """
    from keel.demo import build_demo

    keel = ctx.find_root().command  # the whole `keel` group, run as from a terminal

    built = build_demo(home, progress=lambda line: print(f"  {line}"))
    print(f"\nDemo workspace built in {built.home}: {built.entities} entities.")
    for fact in built.facts:
        print(f"  {fact}")
    print()
    for question, template in TOUR:
        args = [arg.format(home=built.home) for arg in template]
        print(f"## {question}\n$ {shlex.join(['keel', '--home', str(home), *args])}")
        invoke(keel, ["--home", str(built.home), *args])
        print()
    url = url_of(host, port)
    remember(built.settings, url)
    print(f"API token (admin, 1 day), for scripts:  {built.api_token}")
    print(f"Web UI:                                   {url}/")
    print(f"One-time login link (10 minutes):         {url}/login/code?c={built.login_code}")
    print(
        f"A new link later: keel --home {shlex.quote(str(home))} login-link --user ana.lima "
        "--role admin"
    )
    print(f"Gateway key (demo-app, 1 day):            {built.gateway_key}")
    print(
        "Try it:  curl -s http://127.0.0.1:8401/v1/chat/completions "
        f"-H 'Authorization: Bearer {built.gateway_key}' -H 'Content-Type: application/json' "
        """-d '{"model": "support-chat-api", "messages": [{"role": "user", "content": "I lost my card"}]}'"""
    )
    if not serve:
        print(
            f"Serve the models and the gateway: keel --home {shlex.quote(str(home))} serve-model & "
            f"keel --home {shlex.quote(str(home))} gateway &"
        )
        return
    import uvicorn

    from keel.api import create_app

    children = _data_plane(built.home)
    print(
        f"\nServing (and the model server on :8410, the gateway on :8401, {url}/gateway); Ctrl-C stops."
    )
    try:
        uvicorn.run(create_app(built.settings), host=host, port=port, log_level="warning")
    finally:
        for child in children:  # the processes started just above, by their own handles
            child.terminate()
            child.wait(timeout=15)


def _data_plane(home: Path) -> list:
    """`keel serve-model` and `keel gateway` for the demo, as child processes."""
    import subprocess
    import sys

    entry = "from keel.cli.main import main; main()"
    return [
        subprocess.Popen([sys.executable, "-c", entry, "--home", str(home), *args])
        for args in (["serve-model"], ["gateway"])
    ]
