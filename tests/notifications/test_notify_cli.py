"""`keel notify` end to end: exit codes, one-line errors, `--format json`, and the same
commands through a real control plane in server mode."""

from __future__ import annotations

import json

import pytest

from keel.cli.main import run
from tests.conftest import EXAMPLES
from tests.notifications.conftest import SECRET
from tests.servers import serving


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("KEEL_HOME", str(tmp_path / "ws"))
    monkeypatch.setenv("KEEL_USER", "user:alice")
    monkeypatch.delenv("KEEL_DATABASE_URL", raising=False)
    for name in ("KEEL_URL", "KEEL_TOKEN", "KEEL_PUBLIC_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    assert run(["init"]) == 0
    return tmp_path


def test_subscribe_deliver_list_and_remove(home, receiver, capsys):
    hook = ["--webhook", receiver.url, "--secret-ref", "env:HOOK_SECRET"]
    assert run(["notify", "subscribe", "--event", "job-failed", *hook, "--format", "json"]) == 0
    made = json.loads(capsys.readouterr().out)
    assert made["id"] == "sub-1" and made["secret_ref"] == "env:HOOK_SECRET"
    assert run(["notify", "test", "sub-1"]) == 0
    assert "sub-1: delivered (200" in capsys.readouterr().out
    assert json.loads(receiver.received[0].body)["type"] == "keel.test"
    assert run(["notify", "deliver", "--once", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["attempted"] == 0  # a test is not a delivery
    assert run(["notify", "list", "--format", "json"]) == 0
    assert [s["id"] for s in json.loads(capsys.readouterr().out)] == ["sub-1"]
    assert run(["notify", "deliveries", "--attempts"]) == 0
    assert "no deliveries" in capsys.readouterr().out
    assert run(["notify", "remove", "sub-1"]) == 0
    assert "removed sub-1" in capsys.readouterr().out
    assert run(["notify", "remove", "sub-1"]) == 2
    assert capsys.readouterr().err.startswith("error: subscription sub-1 was already removed")


def test_test_of_a_dead_receiver_exits_1_with_the_reason(home, capsys):
    from tests.servers import free_port

    url = f"http://127.0.0.1:{free_port()}/hook"
    assert (
        run(
            [
                "notify",
                "subscribe",
                "--event",
                "incident",
                "--webhook",
                url,
                "--secret-ref",
                "env:HOOK_SECRET",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert run(["notify", "test", "sub-1", "--format", "json"]) == 1
    result = json.loads(capsys.readouterr().out)
    assert result["ok"] is False and "cannot connect" in result["error"]


@pytest.mark.parametrize(
    "args, line",
    [
        (["--event", "nope", "--email", "a@example.org"], "error: unknown event type 'nope'"),
        (
            ["--event", "incident", "--webhook", "ftp://x.example/", "--secret-ref", "env:S"],
            "error: webhook URL must be http or https",
        ),
        (
            ["--event", "incident", "--webhook", "http://localhost:8400/", "--secret-ref", "env:S"],
            "error: webhook URL points at the control plane itself",
        ),
        (
            [
                "--event",
                "incident",
                "--webhook",
                "https://h.example/",
                "--secret-ref",
                "hunter2hunter2",
            ],
            "error: the signing secret must be a reference",
        ),
        (
            ["--event", "incident", "--email", "a@example.org", "--format", "yaml"],
            "error: --format",
        ),
    ],
)
def test_bad_input_exits_2_with_one_line(home, capsys, args, line):
    capsys.readouterr()
    assert run(["notify", "subscribe", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith(line) and err.count("\n") == 1, err
    assert "hunter2hunter2" not in err
    assert run(["notify", "list", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_other_commands_refuse_bad_input(home, capsys):
    assert run(["notify", "deliveries", "--status", "lost"]) == 2
    assert "is not one of pending" in capsys.readouterr().err
    assert run(["notify", "deliver"]) == 2
    assert run(["notify", "deliver", "--once", "--at", "yesterday"]) == 2
    assert run(["notify", "test", "sub-7"]) == 2
    assert "no subscription 'sub-7'" in capsys.readouterr().err


def test_smtp_settings_show_the_reference_never_a_password(home, capsys, monkeypatch):
    monkeypatch.setenv("KEEL_SMTP_HOST", "mail.example.org")
    monkeypatch.setenv("KEEL_SMTP_PASSWORD_REF", "env:SMTP_PW")
    monkeypatch.setenv("SMTP_PW", "hunter2hunter2")
    assert run(["notify", "settings", "smtp", "--format", "json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["host"] == "mail.example.org" and shown["port"] == 587 and shown["starttls"]
    assert shown["password_ref"] == "env:SMTP_PW"
    monkeypatch.setenv("KEEL_SMTP_PASSWORD", "hunter2hunter2")
    assert run(["notify", "settings", "smtp"]) == 2
    err = capsys.readouterr().err
    assert "KEEL_SMTP_PASSWORD_REF" in err and "hunter2" not in err


def test_through_the_control_plane_in_server_mode(home, capsys, monkeypatch, receiver):
    from keel.api import create_app
    from keel.config import load_settings

    assert run(["apply", "-f", str(EXAMPLES / "demo" / "catalog")]) == 0
    assert run(["token", "create", "--user", "ana.lima", "--role", "admin"]) == 0
    assert run(["token", "create", "--user", "chen.wu", "--role", "editor"]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    assert run(["workspace", "mode", "server"]) == 0
    hook = ["--webhook", receiver.url, "--secret-ref", "env:HOOK_SECRET"]
    with serving(create_app(load_settings())) as url:
        assert run(["notify", "subscribe", "--event", "incident", *hook]) == 2  # local: refused
        monkeypatch.setenv("KEEL_URL", url)
        monkeypatch.setenv("KEEL_TOKEN", token)
        capsys.readouterr()
        assert run(["notify", "subscribe", "--event", "incident", *hook]) == 0
        assert "sub-1  incidents.incident.*" in capsys.readouterr().out
        own = ["--webhook", f"{url}/api/v1/tokens", "--secret-ref", "env:HOOK_SECRET"]
        assert run(["notify", "subscribe", "--event", "incident", *own]) == 2
        assert "the control plane itself" in capsys.readouterr().err
        assert run(["notify", "deliveries", "--format", "json"]) == 0
        assert json.loads(capsys.readouterr().out) == []
        assert run(["notify", "remove", "sub-1"]) == 0
        assert "removed sub-1" in capsys.readouterr().out
    monkeypatch.delenv("KEEL_URL")
    assert run(["audit", "log", "--subject", "sub-1", "--format", "json"]) == 0
    actions = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [a["action"] for a in actions] == [
        "notifications.subscription.created",
        "notifications.subscription.removed",
    ]
    assert {a["actor"]["id"] for a in actions} == {"user:default/chen.wu"}
