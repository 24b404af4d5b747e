"""`keel attest`: check a release's attestations, export them, and its ML-BOM."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.markup import escape

from keel.audit import attest
from keel.audit.verify import parse_vkey
from keel.cli import context
from keel.cli.context import FORMAT_OPTION, RELEASE_ARGUMENT, console, print_json
from keel.errors import UsageError
from keel.pipeline import releases
from keel.pipeline.bom import release_bom

OUT_OPTION = typer.Option(None, "--out", "-o", metavar="FILE", help="Write here, not to stdout.")

app = typer.Typer(
    help="Release attestations: verify them (offline too), export them, and the ML-BOM.",
    no_args_is_help=True,
)


@app.command()
def verify(
    ctx: typer.Context,
    file: Path = typer.Argument(..., metavar="FILE", help="An attestation bundle (.intoto.jsonl)."),
    artifact: Path | None = typer.Option(
        None,
        "--artifact",
        metavar="PATH",
        help="Check this file or folder is the attested subject.",
    ),
    key: list[str] = typer.Option(
        [],
        "--key",
        metavar="VKEY|FILE",
        help="Verify offline, trusting only this public key or a file of them (as "
        "`keel audit pubkey` prints them), without the workspace and its live log. Repeatable.",
    ),
    fmt: str = FORMAT_OPTION,
) -> None:
    """Check signatures, statements, the subject digest, and that the events are in the log."""
    if not file.is_file():
        raise UsageError(f"{file}: no such file")
    data = file.read_bytes()
    if key:
        trusted = [k for text in key for k in _vkeys(text)]
        result = attest.verify_bundle(data, trusted, artifact=artifact)
        if result.ok and result.release is not None:
            result.checks.append("offline: the live log was not consulted")
    else:
        with context.workspace(ctx) as ws, ws.read() as session:
            pinned = ws.pinned()
            if not pinned:
                raise UsageError(
                    f"no key to trust: {ws.settings.home} has no signing key file; give the "
                    "workspace's public key with --key (`keel audit pubkey` prints it)"
                )
            result = releases.verify_file(session, data, pinned=pinned, artifact=artifact)
    if fmt == "json":
        print_json(
            {
                "verified": result.ok,
                "subject": result.subject,
                "release": (result.release or {}).get("release"),
                "checks": result.checks,
                "problems": result.problems,
            }
        )
    else:
        for line in result.checks:
            console.print(f"[green]✓[/] {escape(line)}")
        for line in result.problems:
            console.print(f"[red]✗[/] {escape(line)}")
        console.print(result.summary(), markup=False)
    raise typer.Exit(0 if result.ok else 1)


@app.command("get")
def get(
    ctx: typer.Context,
    release: str = RELEASE_ARGUMENT,
    out: Path | None = OUT_OPTION,
) -> None:
    """Write a release's signed attestation bundle (DSSE envelopes, JSON Lines)."""
    with context.workspace(ctx) as ws, ws.read() as session:
        found = releases.get_release(session, release)
    _emit(found.bundle, out)


@app.command()
def bom(
    ctx: typer.Context,
    release: str = RELEASE_ARGUMENT,
    out: Path | None = OUT_OPTION,
) -> None:
    """Export a release as a CycloneDX 1.6 ML-BOM with its model card."""
    with context.workspace(ctx) as ws, ws.read() as session:
        document = release_bom(session, release)
    if out is None:
        print_json(document)
    else:
        _emit((json.dumps(document, indent=2, sort_keys=True) + "\n").encode(), out)


def _emit(data: bytes, out: Path | None) -> None:
    if out is None:
        typer.echo(data.decode(), nl=False)
    else:
        out.write_bytes(data)
        console.print(f"wrote {escape(str(out))}")


def _vkeys(text: str) -> list:
    """A verifier key, or a file with one per line (anything after the key is a comment)."""
    path = Path(text)
    if "+" not in text and not path.is_file():
        raise UsageError(f"--key {text}: no such file, and not a verifier key (name+hash+base64)")
    try:
        lines = path.read_text().splitlines() if "+" not in text else [text]
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--key {text}: not a file of verifier keys ({exc})") from None
    try:
        return [parse_vkey(line.split()[0]) for line in lines if line.strip()]
    except ValueError as exc:
        raise UsageError(f"--key: {exc}") from None
