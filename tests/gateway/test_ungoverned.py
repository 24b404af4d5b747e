"""No ungoverned production traffic (issue 17): a production route whose API's model has no
release promoted there is refused with `403 ungoverned_endpoint`, or served and flagged on
every request once the route allows it; the gateway page and the readiness check count it.

Against a real `keel gateway` and `keel serve-model`, with the openai SDK as the client and
the real `keel route set` to change the route."""

from __future__ import annotations

import subprocess

import openai
import pytest

from keel import audit
from keel.gateway import config, routes
from keel.readiness.scorecard import readiness
from keel.web.views import governed_route_row
from tests.gateway.conftest import KEEL, make_key, workspace_env
from tests.gateway.test_hostile import _traffic as _records
from tests.gateway.test_hostile import _until

CHAT = "api:default/support-chat-api"
MODEL = "model:default/support-assistant-model"


def _client(url: str, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, timeout=10)


def _ask(client: openai.OpenAI):
    return client.chat.completions.create(
        model="support-chat-api", messages=[{"role": "user", "content": "I lost my card"}]
    )


@pytest.fixture
def ungoverned(sqlite_ws, admin, model_server):
    """The demo catalog, nothing released: the chat API routed in production (refusing
    ungoverned traffic, the default) and in staging, with a key for each."""
    from keel.catalog import service
    from tests.conftest import EXAMPLES

    loaded = service.load([EXAMPLES / "demo" / "catalog"])
    with sqlite_ws.write(admin) as session:
        service.apply(session, admin, loaded.entities)
        for environment in ("production", "staging"):
            routes.set_route(session, admin, CHAT, environment, model_server.url)
    prod = make_key(sqlite_ws, admin, "widget", endpoints=[CHAT])
    staging = make_key(sqlite_ws, admin, "widget-staging", endpoints=[CHAT], environment="staging")
    return sqlite_ws, prod, staging


def test_production_without_a_release_is_refused_then_served_flagged(
    ungoverned, run_gateway, admin
):
    ws, prod_key, staging_key = ungoverned
    gw = run_gateway(ws.settings)
    with _client(gw.url, prod_key) as prod, _client(gw.url, staging_key) as staging:
        _refused_then_served(ws, prod, staging, admin)


def _refused_then_served(ws, prod: openai.OpenAI, staging: openai.OpenAI, admin) -> None:

    with pytest.raises(openai.PermissionDeniedError) as refused:
        _ask(prod)
    error = refused.value.body
    assert refused.value.status_code == 403 and error["code"] == "ungoverned_endpoint"
    assert MODEL in error["message"] and "no release promoted to production" in error["message"]
    assert "keel release promote" in error["message"] and "--allow-ungoverned" in error["message"]
    assert "\n" not in error["message"]
    listed = {m.id: m for m in prod.models.list().data}
    assert listed["support-chat-api"].model_extra["ungoverned"] == "refused"
    # staging is where releases are tried: not checked
    assert _ask(staging).choices[0].message.content
    assert staging.models.list().data[0].model_extra["ungoverned"] is None

    def chats():
        return [r for r in _records(ws) if r.details["operation"] == "chat"]

    records = _until(lambda: len(chats()) >= 2 and chats())
    by_env = {r.details["environment"]: r.details for r in records}
    assert by_env["production"]["decision"] == "ungoverned"
    assert by_env["production"]["status"] == 403
    assert by_env["staging"]["decision"] == "allowed" and "ungoverned" not in by_env["staging"]

    # the real CLI lets the route serve it: served within a poll, every request flagged
    allowed = subprocess.run(
        [*KEEL, "route", "set", "support-chat-api", "--env", "production", "--allow-ungoverned"],
        env=workspace_env(ws.settings),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert allowed.returncode == 0, allowed.stderr
    assert "allow-ungoverned" in allowed.stdout

    def served():
        try:
            return _ask(prod)
        except openai.PermissionDeniedError:
            return None

    assert _until(served).choices[0].message.content
    assert prod.models.list().data[0].model_extra["ungoverned"] == "served"
    for _ in range(3):
        _ask(prod)

    def flagged_chats():
        found = [r for r in chats() if r.details.get("ungoverned")]
        return found if len(found) >= 4 else None

    flagged = _until(flagged_chats)
    assert all(r.details["environment"] == "production" for r in flagged)
    assert all(r.details["decision"] == "allowed" and r.details["status"] == 200 for r in flagged)
    assert all(r.details["release"] is None for r in flagged)

    # the readiness check counts it, and the gateway page says so
    with ws.read() as session:
        card = readiness(session, "support-assistant")
        snapshot = config.load(session)
        route = snapshot.routes[(CHAT, "production")]
        row = governed_route_row(route, snapshot.releases[(CHAT, "production")], True)
    production = next(f for f in card.findings if f.id == "infrastructure.production")
    assert "no release behind it" in production.message
    assert "4 ungoverned requests" in production.message
    assert "--refuse-ungoverned" in production.fix
    assert route.allow_ungoverned and (CHAT, "production") in snapshot.ungoverned
    assert (CHAT, "staging") not in snapshot.ungoverned
    assert row["governance"].startswith("UNGOVERNED")

    # and back: refused again
    with ws.write(admin) as session:
        current = snapshot.routes[(CHAT, "production")]
        routes.set_route(session, admin, CHAT, "production", current.upstream)
    _until(lambda: served() is None)


def test_an_api_with_no_model_in_the_map_cannot_be_governed(sqlite_ws, admin, tmp_path):
    """The reason names what is missing: no model to release, not a missing promotion."""
    from keel.catalog import service

    (tmp_path / "bare.yaml").write_text(
        "apiVersion: backstage.io/v1alpha1\nkind: API\nmetadata: {name: bare-api}\n"
        "spec: {type: openapi, lifecycle: experimental, owner: someone, definition: x}\n"
    )
    loaded = service.load([tmp_path / "bare.yaml"])
    with sqlite_ws.write(admin) as session:
        service.apply(session, admin, loaded.entities)
        for environment in ("production", "staging"):
            routes.set_route(session, admin, "api:bare-api", environment, "http://127.0.0.1:9/v1")
        snapshot = config.load(session)
    reason = snapshot.ungoverned[("api:default/bare-api", "production")]
    assert "names no model" in reason and "--allow-ungoverned" in reason
    assert ("api:default/bare-api", "staging") not in snapshot.ungoverned


def test_the_setting_round_trips_through_the_api(api, ws):
    """PUT allow_ungoverned true and back (each store); a value of the wrong type is refused."""
    route = {
        "endpoint": "support-chat-api",
        "environment": "production",
        "upstream": "http://h:1/v1",
    }
    headers = api.auth("admin")
    made = api.client.put(
        "/api/v1/gateway/routes", json={**route, "allow_ungoverned": True}, headers=headers
    )
    assert made.status_code == 200 and made.json()["allow_ungoverned"] is True
    listed = api.client.get("/api/v1/gateway/routes", headers=headers).json()["routes"]
    assert [r["allow_ungoverned"] for r in listed] == [True]
    bad = api.client.put(
        "/api/v1/gateway/routes", json={**route, "allow_ungoverned": "sometimes"}, headers=headers
    )
    assert bad.status_code in (400, 422)
    again = api.client.put("/api/v1/gateway/routes", json=route, headers=headers)
    assert again.json()["allow_ungoverned"] is False
    with ws.read() as session:
        events = audit.list_events(session, action="gateway.route.set")
    assert [e.details["allow_ungoverned"] for e in events] == [True, False]


def test_readiness_flags_an_allowing_route_by_the_gateways_rule(ungoverned, admin):
    """Flagged while the route allows ungoverned traffic and none of the API's own models is
    in production, even before any request (the traffic is only counted beside it); not once
    its model's release serves production (another model's release does not count)."""
    from keel.readiness.facts import _ungoverned

    ws, _, _ = ungoverned
    with ws.write(admin) as session:
        current = routes.list_routes(session)[0]
        routes.set_route(
            session, admin, CHAT, "production", current.upstream, allow_ungoverned=True
        )
    apis = {CHAT: {MODEL}}  # as the map says: the chat API depends on the assistant model
    with ws.read() as session:
        assert _ungoverned(session, apis, set()) == {CHAT: 0}
        assert _ungoverned(session, apis, {"model:default/credit-scorer"}) == {CHAT: 0}
        assert _ungoverned(session, apis, {MODEL}) == {}
        # and the facts readiness gathers read the same from the map
        from keel.readiness.facts import gather

        assert gather(session, "support-assistant").ungoverned == {CHAT: 0}
