"""`keel apply` and `keel export`: the system map as YAML files kept in git."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from keel.catalog import service
from keel.catalog.export import export_yaml
from keel.cli import context, remote
from keel.cli.context import AS_OPTION, FORMAT_OPTION, console, warn
from keel.errors import UsageError


def apply(
    ctx: typer.Context,
    files: list[Path] = typer.Option(
        ..., "-f", "--file", metavar="PATH", help="A YAML file or a folder of them; repeatable."
    ),
    fmt: str = FORMAT_OPTION,
    as_user: str | None = AS_OPTION,
) -> None:
    """Apply catalog YAML: all or nothing, idempotent.

    Reads Backstage-compatible YAML (files or folders, following Location targets). Every
    problem is reported as file:line: field: reason and nothing is applied (exit 2);
    otherwise all changes land in one transaction, one audit event per changed entity.
    With KEEL_URL and KEEL_TOKEN set, the change goes through the control plane's API.
    """
    loaded = service.load(files)
    for line in loaded.warnings:
        warn(line)

    def here(ws, who) -> dict:
        with ws.write(who) as session:
            result = service.apply(session, who, loaded.entities)
        return {
            "created": result.created,
            "updated": result.updated,
            "unchanged": result.unchanged,
            "op": result.op,
        }

    documents = {"documents": [e.body for e in loaded.entities]}
    answer = context.change(
        ctx,
        as_user,
        remote=lambda settings: remote.call(settings, "POST", "/api/v1/apply", documents),
        local=here,
    )
    created, updated = answer["created"], answer["updated"]
    unchanged, op = answer["unchanged"], answer["op"]
    if fmt == "json":
        context.print_json({"entities": len(loaded.entities), **answer})
        return
    console.print(
        f"applied {len(loaded.entities)} entities: {len(created)} created, "
        f"{len(updated)} updated, {unchanged} unchanged",
        markup=False,
    )
    if op:
        console.print(f"op {op}", markup=False, style="dim")


def export(
    ctx: typer.Context,
    output: Path | None = typer.Option(
        None, "-o", "--output", metavar="FILE", help="Write here instead of standard output."
    ),
) -> None:
    """Write the catalog as YAML that re-applies as is."""
    with context.workspace(ctx) as ws, ws.read() as session:
        text = export_yaml(session)
    if output is None:
        sys.stdout.write(text)
        return
    if output.is_dir():
        raise UsageError(f"{output} is a folder; name a file")
    tmp = output.with_name(output.name + ".tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(output)  # never leaves a half-written export behind
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise UsageError(f"cannot write {output}: {exc.strerror or exc}") from None
