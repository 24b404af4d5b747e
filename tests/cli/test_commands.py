"""The command tree as a whole: lazy loading, help texts, shell completion, `--format json`.

Walks every command `keel.cli.main.COMMANDS` names, loaded, so a new command is held to
the same rules without a new test.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from keel.cli.main import COMMANDS, group, run

KEEL = Path(sys.executable).parent / "keel"

# Commands that print no result of their own to format: servers, and commands whose output
# is already a document in a format of its own. Each says why; a stale entry fails below.
NO_FORMAT = {
    "serve": "a server",
    "gateway": "a server",
    "serve-model": "a server",
    "demo": "a tour of other commands, then a server",
    "export": "writes catalog YAML",
    "pipeline run": "streams the pipeline's progress",
    "map show": "--format mermaid, dot or json",
    "attest get": "writes the DSSE bundle",
    "attest bom": "writes CycloneDX JSON",
    "audit proof": "prints the proof as JSON",
    "guard scan": "prints JSON lines",
}


def _leaves(command, path=()):
    subs = getattr(command, "commands", None)
    if subs is None:
        yield " ".join(path), command
        return
    for name, sub in subs.items():
        yield from _leaves(sub, (*path, name))


LEAVES = dict(_leaves(group()))


def _help(argv: list[str], columns: int = 80) -> str:
    done = subprocess.run(
        [KEEL, *argv, "--help"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "COLUMNS": str(columns), "NO_COLOR": "1"},
    )
    return done.stdout


def test_the_listed_help_is_each_commands_own():
    """`keel --help` lists commands from COMMANDS without loading them: the lines there are
    the commands' own first lines, so the listing stays complete and true."""
    root = group()
    for name, (_, _, short) in COMMANDS.items():
        assert root.commands[name].get_short_help_str(limit=1000) == short, name


def test_help_lists_every_command_and_subcommand():
    out = _help([])
    for name in COMMANDS:
        assert re.search(rf"^  {re.escape(name)}\s+\S", out, re.M), name
    for name, command in group().commands.items():
        if not hasattr(command, "commands"):
            continue
        sub_out = _help([name])
        for sub in command.commands:
            assert re.search(rf"^  {re.escape(sub)}\s+\S", sub_out, re.M), (name, sub)


def test_help_loads_no_command_module_and_no_store():
    probe = (
        "import sys, contextlib, io\n"
        "from keel.cli.main import run\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert run(['--help']) == 0\n"
        "heavy = ('sqlalchemy', 'rich', 'pydantic', 'keel.cli.commands.release', 'keel.catalog')\n"
        "print(','.join(m for m in heavy if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


@pytest.mark.parametrize("path", sorted(LEAVES))
def test_help_shows_every_option_whole_and_every_help_text_as_written(path, capsys):
    """No markup reading (`<home>` vanished, `*.skops` turned italic) and no option name cut
    at 80 columns: each help text appears as written, each option name in full."""
    assert run([*path.split(), "--help"]) == 0
    shown = capsys.readouterr().out
    flat = re.sub(r"\s+", "", shown)
    command = LEAVES[path]
    assert re.sub(r"\s+", "", command.help.split("\f")[0]) in flat
    for param in command.params:
        if getattr(param, "hidden", False):
            continue
        for opt in param.opts if param.param_type_name == "option" else ():
            assert re.search(rf"(^|[\s,/]){re.escape(opt)}\b", shown), (path, opt)
        if getattr(param, "help", None):
            assert re.sub(r"\s+", "", param.help) in flat, (path, param.name)


@pytest.mark.parametrize("path", sorted(LEAVES))
def test_every_command_that_prints_a_result_offers_format_json(path):
    command = LEAVES[path]
    options = {opt: p for p in command.params for opt in p.opts}
    visible_json = options.get("--json")
    assert visible_json is None or visible_json.hidden, f"{path}: --json is a hidden alias only"
    if path in NO_FORMAT:
        return
    assert "--format" in options, f"{path} prints a result: give it --format (text or json)"
    assert "json" in (options["--format"].help or ""), path


def test_the_exemptions_name_real_commands():
    assert set(NO_FORMAT) <= set(LEAVES)


def test_format_refuses_an_unknown_value_naming_the_choices(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("KEEL_HOME", str(tmp_path / "ws"))
    assert run(["workspace", "show", "--format", "yaml"]) == 2
    assert capsys.readouterr().err == "error: --format 'yaml': one of text, json\n"


def _complete(words: str) -> list[str]:
    index = len(words.split()) - (0 if words.endswith(" ") else 1)
    done = subprocess.run(
        [KEEL],
        capture_output=True,
        text=True,
        check=True,
        env={
            **os.environ,
            "COMP_WORDS": words,
            "COMP_CWORD": str(index),
            "_KEEL_COMPLETE": "complete_bash",
        },
    )
    return done.stdout.split()


def test_shell_completion_offers_commands_subcommands_and_values():
    assert "release" in _complete("keel rel")
    assert _complete("keel release pro") == ["promote"]
    assert _complete("keel ready x --format ") == ["text", "json"]
    assert _complete("keel route set x --clear m") == ["model"]
    assert "--install-completion" in _help([])
