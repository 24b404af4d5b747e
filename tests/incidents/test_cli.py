"""`keel incident` as a person types it: ids printed, one line per mistake, exit codes, json."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from keel.cli.main import run
from tests.conftest import EXAMPLES

KEEL = str(Path(sys.executable).parent / "keel")


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("KEEL_HOME", str(tmp_path / "ws"))
    monkeypatch.setenv("KEEL_USER", "user:default/ana.lima")
    monkeypatch.delenv("KEEL_DATABASE_URL", raising=False)
    monkeypatch.delenv("KEEL_URL", raising=False)
    monkeypatch.delenv("KEEL_TOKEN", raising=False)
    assert run(["init"]) == 0
    assert run(["apply", "-f", str(EXAMPLES / "demo" / "catalog")]) == 0
    return tmp_path


def keel(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([KEEL, *args], capture_output=True, text=True, timeout=120)


def test_the_lifecycle_in_a_real_process(home):
    opened = keel(
        "incident", "open", "--system", "credit-decisioning", "--severity", "2", "--title", "Drift"
    )
    assert (opened.returncode, opened.stdout, opened.stderr) == (0, "INC-1\n", "")
    assert keel("incident", "ack", "INC-1").stdout == "INC-1 is acknowledged\n"
    twice = keel("incident", "ack", "INC-1")
    assert (twice.returncode, twice.stderr) == (2, "error: INC-1 is already acknowledged\n")
    assert keel("incident", "resolve", "INC-1", "--note", "retrained").returncode == 0
    again = keel("incident", "resolve", "INC-1")
    assert (again.returncode, again.stdout) == (2, "")
    assert again.stderr == "error: INC-1 is already resolved\n"
    shown = json.loads(keel("incident", "show", "INC-1", "--format", "json").stdout)
    assert shown["status"] == "resolved" and shown["notes"][0]["text"] == "retrained"
    actions = [e["title"] for e in shown["timeline"] if e["subject"] == "INC-1"]
    assert actions == [
        "incidents.incident.opened",
        "incidents.incident.acknowledged",
        "incidents.incident.refused",  # acknowledged twice
        "incidents.incident.resolved",
        "incidents.incident.refused",  # resolved twice
    ]


def test_notes_actions_list_and_show(home, capsys):
    assert (
        run(
            [
                "incident",
                "open",
                "--system",
                "support-assistant",
                "--severity",
                "3",
                "--title",
                "Slow",
                "--owner",
                "chen.wu",
            ]
        )
        == 0
    )
    assert (
        run(
            [
                "incident",
                "open",
                "--system",
                "credit-decisioning",
                "--severity",
                "1",
                "--title",
                "Down",
            ]
        )
        == 0
    )
    assert run(["incident", "note", "INC-1", "p95 at 4 s"]) == 0
    assert (
        run(
            [
                "incident",
                "action",
                "add",
                "INC-1",
                "--title",
                "Add a latency eval",
                "--owner",
                "chen.wu",
                "--due",
                "2026-12-31",
                "--tag",
                "eval",
            ]
        )
        == 0
    )
    assert run(["incident", "action", "done", "INC-1", "1"]) == 0
    assert run(["incident", "mitigate", "INC-2"]) == 0
    assert run(["incident", "update", "INC-2", "--severity", "2"]) == 0
    capsys.readouterr()
    assert run(["incident", "list", "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(i["id"], i["severity"], i["status"]) for i in listed] == [
        ("INC-2", 2, "mitigated"),
        ("INC-1", 3, "open"),
    ]
    assert run(["incident", "list", "--status", "open"]) == 0
    out = capsys.readouterr().out
    assert "INC-1" in out and "INC-2" not in out and "sev 3" in out
    assert run(["incident", "show", "INC-1"]) == 0
    shown = capsys.readouterr().out
    assert "owner:    user:default/chen.wu" in shown
    assert "[x] 1. Add a latency eval (user:default/chen.wu due 2026-12-31 tag eval)" in shown
    assert "note 1: p95 at 4 s (user:default/ana.lima)" in shown
    assert "incidents.action.done" in shown


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["open", "--system", "credit-decisioning", "--severity", "5", "--title", "T"],
            "error: severity '5': a whole number from 1 (the worst) to 4\n",
        ),
        (
            ["open", "--system", "credit-decisioning", "--severity", "0", "--title", "T"],
            "error: severity '0': a whole number from 1 (the worst) to 4\n",
        ),
        (
            ["open", "--system", "nope", "--severity", "2", "--title", "T"],
            "error: no such entity system:default/nope\n",
        ),
        (["ack", "INC-9"], "error: no incident INC-9\n"),
        (["ack", "nine"], "error: 'nine' is not an incident: write INC-<n>, e.g. INC-7\n"),
        (
            ["list", "--status", "closed"],
            "error: status 'closed': one of open, acknowledged, mitigated, resolved\n",
        ),
        (["list", "--format", "yaml"], "error: --format 'yaml': one of text, json\n"),
        (
            ["action", "add", "INC-1", "--title", "T", "--owner", "chen.wu", "--due", "soon"],
            "error: due 'soon': a date written YYYY-MM-DD\n",
        ),
    ],
)
def test_bad_input_is_one_line_exit_2(home, capsys, args, message):
    assert (
        run(
            [
                "incident",
                "open",
                "--system",
                "credit-decisioning",
                "--severity",
                "2",
                "--title",
                "T",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert run(["incident", *args]) == 2
    assert capsys.readouterr().err == message


def test_an_action_on_a_resolved_incident_is_refused_and_logged_once(home, capsys):
    assert (
        run(
            [
                "incident",
                "open",
                "--system",
                "credit-decisioning",
                "--severity",
                "2",
                "--title",
                "T",
            ]
        )
        == 0
    )
    assert run(["incident", "resolve", "INC-1"]) == 0
    capsys.readouterr()
    assert run(["incident", "action", "add", "INC-1", "--title", "T", "--owner", "ana.lima"]) == 2
    assert capsys.readouterr().err == (
        "error: INC-1 is resolved: it can no longer be given action items\n"
    )
    assert run(["audit", "log", "--subject", "INC-1", "--format", "json"]) == 0
    lines = capsys.readouterr().out.splitlines()
    actions = [json.loads(line)["action"] for line in lines]
    assert actions == [
        "incidents.incident.opened",
        "incidents.incident.resolved",
        "incidents.incident.refused",
    ]
