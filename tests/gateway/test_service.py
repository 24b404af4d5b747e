"""Routes and keys: the service functions (each backend), the CLI and the control-plane API."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from keel import audit
from keel.cli.main import run
from keel.errors import NotFoundError, UsageError
from keel.gateway import config, keys, routes
from tests.api.conftest import SAME_SITE
from tests.conftest import EXAMPLES
from tests.servers import serving


def test_routes_are_set_replaced_removed_and_recorded(demo_ws, admin):
    with demo_ws.write(admin) as session:
        first = routes.set_route(
            session, admin, "credit-decision-api", "staging", "http://127.0.0.1:9/v1/", rpm=10
        )
        routes.set_route(session, admin, "api:credit-decision-api", "staging", "http://h:1/v1")
    assert first.endpoint == "api:default/credit-decision-api" and first.upstream.endswith("/v1")
    with demo_ws.read() as session:
        [route] = routes.list_routes(session)
        events = audit.list_events(session, action="gateway.route.set")
    assert route.upstream == "http://h:1/v1" and route.rpm is None
    assert events[-1].details["previous_upstream"] == "http://127.0.0.1:9/v1"
    with demo_ws.write(admin) as session:
        routes.remove_route(session, admin, "credit-decision-api", "staging")
        assert routes.list_routes(session) == []
        with pytest.raises(NotFoundError):
            routes.remove_route(session, admin, "credit-decision-api", "staging")


@pytest.mark.parametrize(
    ("endpoint", "env", "upstream", "problem"),
    [
        ("credit-decision-api", "prod", "http://h/v1", "not one of"),
        ("model:credit-scorer", "staging", "http://h/v1", "is not an API"),
        ("no-such-api", "staging", "http://h/v1", "no such entity"),
        ("credit-decision-api", "staging", "ftp://h/v1", r"http\(s\) URL"),
        ("credit-decision-api", "staging", "http://h/v1?x=1", "query"),
    ],
)
def test_bad_routes_are_refused_with_one_line(demo_ws, admin, endpoint, env, upstream, problem):
    with demo_ws.write(admin) as session, pytest.raises(UsageError, match=problem):
        routes.set_route(session, admin, endpoint, env, upstream)


def test_a_route_names_its_upstream_credential_never_holds_it(demo_ws, admin):
    with demo_ws.write(admin) as session:
        route = routes.set_route(
            session,
            admin,
            "credit-decision-api",
            "production",
            "https://provider.example/v1",
            credential_env="PROVIDER_API_KEY",
        )
        with pytest.raises(UsageError, match="not an environment variable name"):
            routes.set_route(
                session,
                admin,
                "credit-decision-api",
                "staging",
                "http://h/v1",
                credential_env="sk-live-123",
            )
    assert route.credential_env == "PROVIDER_API_KEY"
    with demo_ws.read() as session:
        [stored] = routes.list_routes(session)
        (event,) = audit.list_events(session, action="gateway.route.set")
    assert stored.credential_env == "PROVIDER_API_KEY"
    assert event.details["credential_env"] == "PROVIDER_API_KEY"


def test_keys_are_scoped_shown_once_and_revocable(demo_ws, admin):
    with demo_ws.write(admin) as session:
        key, secret = keys.create_key(
            session,
            admin,
            "support-widget",
            ["support-chat-api"],
            "staging",
            operations=["chat"],
            rpm=60,
            ttl=timedelta(days=30),
        )
        _, other = keys.create_key(
            session, admin, "support-widget", ["support-chat-api"], "staging"
        )
    assert secret.startswith("keel_gw_") and key.digest == keys.digest(secret)
    assert key.endpoints == ("api:default/support-chat-api",) and key.operations == ("chat",)
    with demo_ws.read() as session:
        created = audit.list_events(session, action="gateway.key.created")
        assert len(keys.list_keys(session)) == 2
        snapshot = config.load(session)
    assert all(secret not in e.body.decode() and key.digest not in e.body.decode() for e in created)
    grant = snapshot.keys[keys.digest(secret)]
    assert grant.environment == "staging" and grant.rpm == 60 and grant.expires is not None
    assert snapshot.resolve("support-chat-api") == "api:default/support-chat-api"
    assert snapshot.resolve("API:default/Support-Chat-Api") == "api:default/support-chat-api"
    with demo_ws.write(admin) as session:
        assert keys.revoke_keys(session, admin, key=secret) == [key.id]  # by the key itself
        with pytest.raises(NotFoundError):
            keys.revoke_keys(session, admin, key=key.id)
        assert len(keys.revoke_keys(session, admin, consumer="support-widget")) == 1
    with demo_ws.read() as session:
        assert keys.list_keys(session) == []
        assert len(keys.list_keys(session, revoked=True)) == 2
        assert config.load(session).keys == {}
        assert len(audit.list_events(session, action="gateway.key.revoked")) == 2
    assert other


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"consumer": "bad name!"}, "not a name"),
        ({"endpoints": []}, "at least one endpoint"),
        ({"endpoints": ["model:credit-scorer"]}, "is not an API"),
        ({"environment": "dev"}, "not one of"),
        ({"operations": ["admin"]}, "not one of"),
        ({"rpm": 0}, "must be positive"),
        ({"ttl": timedelta(seconds=-1)}, "in the future"),
    ],
)
def test_bad_keys_are_refused(demo_ws, admin, kwargs, problem):
    args = {"consumer": "c", "endpoints": ["support-chat-api"], "environment": "staging"}
    args.update(kwargs)
    with demo_ws.write(admin) as session, pytest.raises(UsageError, match=problem):
        keys.create_key(
            session,
            admin,
            args.pop("consumer"),
            args.pop("endpoints"),
            args.pop("environment"),
            **args,
        )


def test_the_release_an_environment_serves_is_in_the_config(demo_ws, admin):
    """Before any promotion a route records no release; the config names what `where` says."""
    with demo_ws.write(admin) as session:
        routes.set_route(session, admin, "credit-decision-api", "production", "http://h/v1")
    with demo_ws.read() as session:
        snapshot = config.load(session)
    assert snapshot.releases == {("api:default/credit-decision-api", "production"): ()}
    assert snapshot.version == audit.head(demo_ws.read().__enter__())


def test_cli_route_and_key_commands(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KEEL_HOME", str(tmp_path / "ws"))
    monkeypatch.setenv("KEEL_USER", "user:alice")
    monkeypatch.delenv("KEEL_DATABASE_URL", raising=False)
    assert run(["init"]) == 0
    assert run(["apply", "-f", str(EXAMPLES / "demo" / "catalog")]) == 0
    capsys.readouterr()
    up = "http://127.0.0.1:8410/v1"
    assert run(["route", "set", "support-chat-api", "--env", "staging", "--upstream", up]) == 0
    assert run(["route", "list"]) == 0
    assert "api:default/support-chat-api  staging" in capsys.readouterr().out
    args = ["key", "create", "--consumer", "web", "--endpoint", "support-chat-api"]
    assert run([*args, "--env", "staging", "--rpm", "5", "--expires", "30m"]) == 0
    out = capsys.readouterr()
    secret = out.out.strip()
    assert secret.startswith("keel_gw_") and "expires" in out.err
    assert run(["key", "list", "--json"]) == 0
    assert '"consumer": "web"' in capsys.readouterr().out
    assert run([*args, "--env", "production", "--expires", "soon"]) == 2
    assert run(["route", "set", "nope", "--env", "staging", "--upstream", up]) == 2
    assert "error: no such entity" in capsys.readouterr().err
    assert run(["key", "revoke", "--consumer", "web"]) == 0
    assert run(["key", "revoke", "--consumer", "web"]) == 2
    assert run(["route", "remove", "support-chat-api", "--env", "staging"]) == 0


def test_api_manages_routes_and_keys_for_admins_only(api):
    route = {"endpoint": "support-chat-api", "environment": "staging", "upstream": "http://h/v1"}
    assert (
        api.client.put("/api/v1/gateway/routes", json=route, headers=api.auth("editor")).status_code
        == 403
    )
    made = api.client.put("/api/v1/gateway/routes", json=route, headers=api.auth("admin"))
    assert made.status_code == 200, made.text
    body = {"consumer": "web", "endpoints": ["support-chat-api"], "environment": "staging"}
    created = api.post("/api/v1/gateway/keys", "admin", json=body)
    assert created.status_code == 201 and created.json()["key"].startswith("keel_gw_")
    listed = api.get("/api/v1/gateway/keys", "admin").json()["keys"]
    assert [k["id"] for k in listed] == [created.json()["id"]] and "key" not in listed[0]
    assert api.get("/api/v1/gateway/keys", "viewer").status_code == 403
    gone = api.client.delete(
        f"/api/v1/gateway/keys/{created.json()['id']}", headers=api.auth("admin")
    )
    assert gone.json() == {"revoked": [created.json()["id"]]}
    bad = api.post("/api/v1/gateway/keys", "admin", json={**body, "endpoints": ["nope"]})
    assert bad.status_code == 404 and bad.headers["content-type"].startswith("application/problem")


def test_gateway_page_and_traffic_figures(api, ws, admin):
    """Admins see keys, routes and live figures read from the traffic log; others do not."""
    from keel.gateway.traffic import TrafficLog

    with ws.write(admin) as session:
        routes.set_route(session, admin, "support-chat-api", "production", "http://h/v1", rpm=9)
        key, _ = keys.create_key(session, admin, "widget", ["support-chat-api"], "production")
    log = TrafficLog(ws)
    for decision, status in [("allowed", 200)] * 3 + [("rate_limited:key-rpm", 429)]:
        log.record(
            {
                "endpoint": "api:default/support-chat-api",
                "environment": "production",
                "key": key.id,
                "decision": decision,
                "status": status,
                "latency_ms": 0.4,
                "tokens": {"total": 10},
            }
        )
    log.record(
        {"kind": "burst", "key": key.id, "requests": 120, "baseline": 3.0},
        action="gateway.anomaly.detected",
    )
    log.flush()

    figures = api.get("/api/v1/gateway/traffic", "admin").json()
    assert figures["requests"] == 4 and figures["rate_limited"] == 1 and figures["tokens"] == 40
    assert figures["keys"] == [{"key": key.id, "requests": 4, "limited": 1, "errors": 1}]
    assert figures["anomalies"][0]["kind"] == "burst"

    api.client.post(
        "/login", data={"token": api.tokens["viewer"]}, follow_redirects=False, headers=SAME_SITE
    )
    assert api.client.get("/gateway").status_code == 403
    api.client.post(
        "/login", data={"token": api.tokens["admin"]}, follow_redirects=False, headers=SAME_SITE
    )
    page = api.client.get("/gateway")
    assert page.status_code == 200
    for text in (key.id, "widget", "http://h/v1", "9 rpm", "rate_limited:key-rpm", "burst"):
        assert text in page.text


def test_in_server_mode_routes_and_keys_go_through_the_api(tmp_path, monkeypatch, capsys):
    """`keel route` and `keel key` with KEEL_URL + KEEL_TOKEN: the token's user acts."""

    from keel.api import create_app
    from keel.config import load_settings

    monkeypatch.setenv("KEEL_HOME", str(tmp_path / "ws"))
    monkeypatch.setenv("KEEL_USER", "user:alice")
    monkeypatch.delenv("KEEL_DATABASE_URL", raising=False)
    assert run(["init"]) == 0
    assert run(["apply", "-f", str(EXAMPLES / "demo" / "catalog")]) == 0
    assert run(["token", "create", "--user", "ana.lima", "--role", "admin"]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    assert run(["workspace", "mode", "server"]) == 0
    with serving(create_app(load_settings())) as url:
        up = "http://127.0.0.1:8410/v1"
        assert run(["route", "set", "support-chat-api", "--env", "staging", "--upstream", up]) == 2
        monkeypatch.setenv("KEEL_URL", url)
        monkeypatch.setenv("KEEL_TOKEN", token)
        capsys.readouterr()
        route = ["route", "set", "support-chat-api", "--env", "staging", "--upstream", up]
        assert run([*route, "--capture"]) == 0
        args = ["key", "create", "--consumer", "web", "--endpoint", "support-chat-api"]
        assert run([*args, "--env", "staging", "--expires", "2h"]) == 0
        secret = capsys.readouterr().out.strip().splitlines()[-1]
        assert secret.startswith("keel_gw_")
        assert run([*args, "--env", "staging", "--expires", "90s"]) == 2  # whole minutes
        assert (
            run(["key", "create", "--consumer", "app", "--endpoint", "nope", "--env", "staging"])
            == 2
        )
        assert run(["key", "revoke", "--consumer", "web"]) == 0
        assert run(["route", "remove", "support-chat-api", "--env", "staging"]) == 0
    capsys.readouterr()
    assert run(["audit", "log", "--format", "json"]) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    gateway = [e for e in events if e["action"].startswith("gateway.")]
    assert [e["action"] for e in gateway] == [
        "gateway.route.set",
        "gateway.key.created",
        "gateway.key.revoked",
        "gateway.route.removed",
    ]
    assert {e["actor"]["id"] for e in gateway} == {"user:default/ana.lima"}
    assert gateway[0]["details"]["capture"] is True
