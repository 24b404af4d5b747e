"""`keel guard scan`: run the input or output guard offline (CI jobs, pre-commit hooks, audits)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import typer
import yaml

from keel.cli import context
from keel.errors import InputError

if TYPE_CHECKING:  # the scanners load numpy: imported when a scan runs, not for every command
    from keel import guard

app = typer.Typer(help="Guard scanners: injection, PII, secrets, invisible characters.")


@app.callback(no_args_is_help=True)
def _group() -> None:
    """Guard scanners: injection, PII, secrets, invisible characters."""


@app.command("scan")
def scan_command(
    source: str = typer.Argument(..., metavar="FILE|-", help="The text to scan ('-' = stdin)."),
    stage: str = typer.Option("output", "--stage", help="input or output."),
    jsonl: bool = typer.Option(False, "--jsonl", help='One {"text": ...} per line.'),
    policy_file: Path | None = typer.Option(
        None,
        "--policy",
        metavar="FILE",
        help="YAML/JSON policy ({input: {pii: redact, ...}, output: ...}); default: any finding blocks.",
    ),
) -> None:
    """Print one JSON result per text; exit 1 when anything is blocked."""
    from keel import guard

    context.check_choice(stage, ("input", "output"), "--stage")
    policy = _policy(policy_file) if policy_file else guard.STRICT_POLICY
    blocked = False
    for text in _texts(source, jsonl):
        result = guard.scan(text, stage, policy)  # type: ignore[arg-type]
        blocked = blocked or result.blocked
        sys.stdout.write(json.dumps(result.to_dict()) + "\n")
    if blocked:
        raise typer.Exit(1)


def _read(source: str) -> str:
    if source == "-":
        return sys.stdin.read()
    try:
        return Path(source).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{source}: no such file") from None
    except (UnicodeDecodeError, IsADirectoryError) as exc:
        raise InputError(f"{source}: cannot read as UTF-8 text ({type(exc).__name__})") from None


def _texts(source: str, jsonl: bool) -> Iterator[str]:
    raw = _read(source)
    if not jsonl:
        yield raw
        return
    for number, line in enumerate(raw.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{source}:{number}: not JSON ({exc.msg})") from None
        if not isinstance(row, dict) or not isinstance(row.get("text"), str):
            raise InputError(f'{source}:{number}: expected an object with a string "text"')
        yield row["text"]


def _policy(path: Path) -> guard.Policy:
    from keel import guard

    return guard.parse_policy(policy_mapping(path))


def policy_mapping(path: Path) -> dict | None:
    """The mapping a YAML/JSON policy file holds (validated by the caller)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: not YAML/JSON ({str(exc).splitlines()[0]})") from None
    if data is not None and not isinstance(data, dict):
        raise InputError(f"{path}: a policy is a mapping with input/output keys")
    return data
