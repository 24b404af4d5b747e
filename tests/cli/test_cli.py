"""The `keel` command line, end to end: help, exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from keel.cli.main import run
from tests.catalog.helpers import complete_system, entity, write
from tests.conftest import EXAMPLES
from tests.servers import serving

KEEL = Path(sys.executable).parent / "keel"


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("KEEL_HOME", str(tmp_path / "ws"))
    monkeypatch.setenv("KEEL_USER", "user:alice")
    monkeypatch.delenv("KEEL_DATABASE_URL", raising=False)
    assert run(["init"]) == 0
    return tmp_path


def test_help_lists_every_command_with_one_line():
    out = subprocess.run(
        [KEEL, "--help"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1"},
    ).stdout
    for command in ("init", "apply", "export", "map", "pod", "audit", "workspace", "demo"):
        assert re.search(rf"^  {command}\s+\S", out, re.M), command
    sub_out = subprocess.run(
        [KEEL, "release", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for sub in ("create", "list", "show", "approve", "promote", "where"):
        assert re.search(rf"^  {sub}\s+\S", sub_out, re.M), sub


def test_commands_need_an_initialised_workspace(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KEEL_HOME", str(tmp_path / "nothing"))
    assert run(["map", "validate"]) == 2
    assert "run `keel init` first" in capsys.readouterr().err


def test_apply_validate_impact_show_export(home, capsys, tmp_path):
    path = write(tmp_path / "c.yaml", *complete_system())
    assert run(["apply", "-f", str(path)]) == 0
    assert "9 created" in capsys.readouterr().out
    assert run(["apply", "-f", str(path)]) == 0
    assert "0 created, 0 updated, 9 unchanged" in capsys.readouterr().out

    assert run(["map", "validate"]) == 0
    assert "clean" in capsys.readouterr().out
    assert run(["map", "validate", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["clean"] is True

    assert run(["map", "impact", "datasource:src", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["outcomes_at_risk"] == ["businessoutcome:default/kpi"]

    assert run(["map", "show", "--format", "dot"]) == 0
    assert capsys.readouterr().out.startswith("digraph keel {")
    assert run(["map", "show", "--format", "json", "--system", "sys"]) == 0
    assert len(json.loads(capsys.readouterr().out)["nodes"]) == 6

    out = tmp_path / "export.yaml"
    assert run(["export", "-o", str(out)]) == 0
    assert len(list(yaml.safe_load_all(out.read_text()))) == 9


def test_validate_exits_1_with_findings(home, capsys, tmp_path):
    path = write(tmp_path / "m.yaml", entity("Model", "lonely", {}))
    assert run(["apply", "-f", str(path)]) == 0
    capsys.readouterr()
    assert run(["map", "validate"]) == 1
    out = capsys.readouterr().out
    assert "model:default/lonely" in out and "no owner declared" in out


def test_bad_input_is_exit_2_one_line_each_and_applies_nothing(home, capsys, tmp_path):
    (tmp_path / "bad.yaml").write_text(
        "apiVersion: keel.dev/v1\nkind: Model\nmetadata:\n  name: m\nspec:\n  owner: [1]\n"
    )
    assert run(["apply", "-f", str(tmp_path / "bad.yaml"), "-f", str(tmp_path / "c.yaml")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "c.yaml: no such file or folder" in err
    write(tmp_path / "c.yaml", *complete_system())
    assert run(["apply", "-f", str(tmp_path / "bad.yaml"), "-f", str(tmp_path / "c.yaml")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "bad.yaml:6: spec.owner:" in err
    assert run(["audit", "log", "--format", "json"]) == 0
    assert [json.loads(line)["action"] for line in capsys.readouterr().out.splitlines()] == [
        "workspace.store.created"
    ]


@pytest.mark.parametrize(
    "argv",
    [
        ["map", "validate", "--format", "xml"],
        ["map", "impact", "model:nothing"],
        ["map", "impact", "x", "--direction", "sideways"],
        ["pod", "show", "nothing"],
        ["map", "show", "--system", "nothing"],
        ["audit", "log", "--since", "yesterday"],
        ["apply", "--as", "group:ops", "-f", "."],
    ],
)
def test_user_mistakes_exit_2(home, capsys, argv):
    assert run(argv) == 2
    assert capsys.readouterr().err.strip()


def test_audit_log_filters(home, capsys, tmp_path):
    write(tmp_path / "c.yaml", *complete_system())
    assert run(["apply", "--as", "user:bob", "-f", str(tmp_path / "c.yaml")]) == 0
    capsys.readouterr()
    assert run(["audit", "log", "--actor", "bob", "--format", "json"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 9
    assert all(json.loads(x)["actor"] == {"id": "user:default/bob", "via": "local"} for x in lines)
    assert run(["audit", "log", "--subject", "model:default/model"]) == 0
    assert "catalog.entity.created model:default/model" in capsys.readouterr().out
    assert run(["audit", "log", "--since", "2999-01-01"]) == 0
    assert capsys.readouterr().out == ""


def test_server_mode_sends_the_cli_to_the_api(home, capsys, tmp_path):
    assert run(["workspace", "mode", "server"]) == 2  # refused: nobody could change it afterwards
    assert "no admin API token" in capsys.readouterr().err
    assert run(["apply", "-f", str(EXAMPLES / "demo" / "catalog")]) == 0
    assert run(["token", "create", "--user", "ana.lima", "--role", "admin"]) == 0
    assert run(["workspace", "mode", "server"]) == 0
    write(tmp_path / "c.yaml", *complete_system())
    assert run(["apply", "-f", str(tmp_path / "c.yaml")]) == 2
    assert "server mode" in capsys.readouterr().err
    assert run(["map", "validate"]) == 1  # reading stays local (the demo has findings)


def test_pod_show(home, capsys):
    assert run(["apply", "-f", str(EXAMPLES / "demo" / "catalog")]) == 0
    capsys.readouterr()
    assert run(["pod", "show", "support-assistant"]) == 1
    out = capsys.readouterr().out
    assert "riskLead: nobody named" in out
    assert run(["pod", "show", "credit-decisioning", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["complete"] is True


def test_in_server_mode_the_cli_applies_through_the_api(home, capsys, tmp_path, monkeypatch):
    """A real server on a free port; `keel apply` with KEEL_URL + KEEL_TOKEN goes through it."""

    from keel.api import create_app
    from keel.config import load_settings

    assert run(["apply", "-f", str(EXAMPLES / "demo" / "catalog")]) == 0
    assert run(["token", "create", "--user", "ana.lima", "--role", "admin"]) == 0
    assert run(["token", "create", "--user", "chen.wu", "--role", "editor"]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    assert run(["workspace", "mode", "server"]) == 0
    with serving(create_app(load_settings())) as url:
        write(tmp_path / "m.yaml", entity("Model", "fraud", {"owner": "risk-analytics"}))
        assert run(["apply", "-f", str(tmp_path / "m.yaml")]) == 2  # local: refused
        monkeypatch.setenv("KEEL_URL", url)
        monkeypatch.setenv("KEEL_TOKEN", token)
        capsys.readouterr()
        assert run(["apply", "-f", str(tmp_path / "m.yaml")]) == 0
        assert "1 created" in capsys.readouterr().out
        write(tmp_path / "bad.yaml", entity("Model", "fraud", {"owner": "component:x"}))
        assert run(["apply", "-f", str(tmp_path / "bad.yaml")]) == 2
        monkeypatch.setenv("KEEL_TOKEN", "keel_pat_wrong")
        assert run(["apply", "-f", str(tmp_path / "m.yaml")]) == 3
        assert "unknown, expired or revoked" in capsys.readouterr().err
    assert run(["audit", "log", "--subject", "model:default/fraud", "--format", "json"]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert json.loads(line)["actor"] == {"id": "user:default/chen.wu", "via": "token"}


def test_tokens_and_the_mode_change_through_the_api_as_the_tokens_user(
    home, capsys, tmp_path, monkeypatch
):
    """`context.change` sends token create/revoke and `workspace mode` to a real server."""
    from keel.api import create_app
    from keel.config import load_settings

    assert run(["apply", "-f", str(EXAMPLES / "demo" / "catalog")]) == 0
    assert run(["token", "create", "--user", "ana.lima", "--role", "admin"]) == 0
    admin_token = capsys.readouterr().out.strip().splitlines()[-1]
    assert run(["workspace", "mode", "server"]) == 0
    with serving(create_app(load_settings())) as url:
        monkeypatch.setenv("KEEL_URL", url)
        monkeypatch.setenv("KEEL_TOKEN", admin_token)
        capsys.readouterr()
        assert run(["token", "create", "--user", "chen.wu", "--role", "viewer"]) == 0
        out = capsys.readouterr().out
        token_id = re.search(r"token (\S+) for user:default/chen.wu", out).group(1)
        assert (
            run(["token", "create", "--user", "chen.wu", "--role", "viewer", "--expires", "12h"])
            == 2
        )
        assert run(["token", "revoke", token_id]) == 0
        assert f"revoked {token_id}" in capsys.readouterr().out
        assert run(["token", "revoke", "--user", "chen.wu"]) == 2  # one ID at a time there
        assert run(["workspace", "mode", "embedded"]) == 0
        assert "mode set to embedded" in capsys.readouterr().out
    monkeypatch.delenv("KEEL_URL")
    assert run(["audit", "log", "--subject", "workspace", "--format", "json"]) == 0
    changed = [json.loads(x) for x in capsys.readouterr().out.splitlines()][-1]
    assert changed["action"] == "workspace.mode.changed"
    assert changed["actor"] == {"id": "user:default/ana.lima", "via": "token"}


def test_serve_prints_only_addresses_that_answer_and_login_links_follow_its_port(home, capsys):
    import httpx

    from tests.servers import free_port

    assert run(["apply", "-f", str(EXAMPLES / "demo" / "catalog")]) == 0
    port = free_port()
    popen = subprocess.Popen(
        [KEEL, "serve", "--port", str(port)], stdout=subprocess.PIPE, text=True, env=os.environ
    )
    try:
        line = popen.stdout.readline()
        printed = re.findall(r"http://127\.0\.0\.1:\d+\S*", line)
        assert printed and all(f":{port}" in url for url in printed), line
        assert "docs" not in line
        for url in printed:
            answer = _get(url.rstrip(")"), popen)
            assert answer.status_code in (200, 303, 307, 401), (url, answer.status_code)
        assert httpx.get(f"http://127.0.0.1:{port}/api/v1/openapi.json").json()["openapi"]
        capsys.readouterr()
        assert run(["login-link", "--user", "ana.lima"]) == 0
        assert capsys.readouterr().out.startswith(f"http://127.0.0.1:{port}/login/code?c=")
    finally:
        popen.terminate()
        popen.wait(timeout=15)
        popen.stdout.close()


def _get(url: str, popen):
    import time

    import httpx

    for _ in range(200):
        try:
            return httpx.get(url, timeout=5)
        except httpx.TransportError:
            assert popen.poll() is None, "keel serve stopped"
            time.sleep(0.1)
    raise AssertionError(f"{url} never answered")


def test_apply_approve_and_init_print_json_results(home, capsys, tmp_path):
    assert run(["init", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["created"] is False
    assert run(["apply", "-f", str(EXAMPLES / "demo" / "catalog"), "--format", "json"]) == 0
    applied = json.loads(capsys.readouterr().out)
    assert applied["entities"] == 29 and len(applied["created"]) == 29
