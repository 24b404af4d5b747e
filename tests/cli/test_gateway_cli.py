"""`keel route` and `keel key` from the command line: a route changes only where told."""

from __future__ import annotations

import json

import pytest

from keel.cli.main import run
from tests.conftest import EXAMPLES

API = "credit-decision-api"


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("KEEL_HOME", str(tmp_path / "ws"))
    monkeypatch.setenv("KEEL_USER", "user:default/ana.lima")
    monkeypatch.delenv("KEEL_DATABASE_URL", raising=False)
    assert run(["init"]) == 0
    assert run(["apply", "-f", str(EXAMPLES / "demo" / "catalog")]) == 0
    return tmp_path


def _route(capsys, *args: str) -> dict:
    capsys.readouterr()
    code = run(["route", "set", API, "--env", "production", *args, "--format", "json"])
    assert code == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def test_changing_the_upstream_keeps_the_model_and_limits(home, capsys):
    first = _route(capsys, "--upstream", "http://127.0.0.1:8410/v1", "--model", "m", "--rpm", "60")
    assert (first["model"], first["rpm"]) == ("m", 60)
    moved = _route(capsys, "--upstream", "http://127.0.0.1:9000/v1")
    assert moved["upstream"] == "http://127.0.0.1:9000/v1"
    assert (moved["model"], moved["rpm"]) == ("m", 60)  # once silently dropped
    assert run(["route", "set", API, "--env", "production", "--tpm", "1000"]) == 0
    printed = capsys.readouterr().out
    assert "http://127.0.0.1:9000/v1" in printed and "model=m rpm=60 tpm=1000" in printed


def test_clear_unsets_one_setting_and_refuses_a_value_beside_it(home, capsys):
    _route(capsys, "--upstream", "http://127.0.0.1:8410/v1", "--model", "m", "--rpm", "60")
    cleared = _route(capsys, "--clear", "rpm")
    assert (cleared["model"], cleared["rpm"]) == ("m", None)
    assert (
        run(["route", "set", API, "--env", "production", "--clear", "model", "--model", "x"]) == 2
    )
    assert "exclude each other" in capsys.readouterr().err
    assert run(["route", "set", API, "--env", "production", "--clear", "upstream"]) == 2
    assert "--clear 'upstream': one of" in capsys.readouterr().err


def test_a_new_route_needs_an_upstream(home, capsys):
    assert run(["route", "set", API, "--env", "staging", "--rpm", "5"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "give its --upstream" in err
    assert run(["route", "list", "--json"]) == 0  # the old flag, kept hidden
    assert json.loads(capsys.readouterr().out) == []


def test_key_create_prints_json_with_the_secret_once(home, capsys):
    _route(capsys, "--upstream", "http://127.0.0.1:8410/v1")
    argv = ["key", "create", "--consumer", "app", "--endpoint", API, "--env", "production"]
    assert run([*argv, "--format", "json"]) == 0
    done = json.loads(capsys.readouterr().out)
    assert done["key"].startswith("keel_gw_") and done["consumer"] == "app"
    assert run(["key", "revoke", done["id"], "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"revoked": [done["id"]]}
