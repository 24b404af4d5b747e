"""The control-plane API: authentication, roles, the same service functions, problem bodies."""

from __future__ import annotations

import pytest
import yaml

from keel import audit
from tests.api.conftest import SAME_SITE
from tests.catalog.helpers import entity

PROBLEM = "application/problem+json"


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    assert "\n" not in body["detail"]
    return body


def test_health_is_open_and_openapi_is_served(api):
    assert api.client.get("/healthz").json() == {"status": "ok"}
    spec = api.client.get("/api/v1/openapi.json").json()
    assert "/api/v1/map/validate" in spec["paths"] and "/api/v1/apply" in spec["paths"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/entities",
        "/api/v1/map/validate",
        "/api/v1/events",
        "/api/v1/pods/credit-decisioning",
    ],
)
def test_every_call_needs_a_token(api, path):
    body = assert_problem(api.client.get(path), 401)
    assert "bearer" in body["detail"].lower()
    assert_problem(api.client.get(path, headers={"Authorization": "Bearer keel_pat_nope"}), 401)


def test_reads(api):
    page = api.get("/api/v1/entities", params={"kind": "Model"}).json()
    assert page["total"] == 3
    one = api.get("/api/v1/entities/model/default/credit-scorer").json()
    assert one["entity"]["spec"]["rollback"]["strategy"] == "fallback"
    report = api.get("/api/v1/map/validate").json()
    assert report["clean"] is False and report["summary"]["rollback"] == 1
    assert api.get("/api/v1/map/validate", params={"system": "credit-decisioning"}).json()["clean"]
    impact = api.get("/api/v1/map/impact", params={"ref": "datasource:german-credit"}).json()
    assert impact["outcomes_at_risk"] == ["businessoutcome:default/approval-rate"]
    pod = api.get("/api/v1/pods/support-assistant").json()
    assert "riskLead: nobody named" in pod["gaps"]
    graph = api.get("/api/v1/map/show", params={"system": "credit-decisioning"}).json()
    assert len(graph["nodes"]) == 6
    mermaid = api.get("/api/v1/map/show", params={"format": "mermaid"})
    assert mermaid.text.startswith("flowchart LR")


def test_apply_writes_the_same_events_as_the_cli_with_the_tokens_user(api, ws):
    doc = entity(
        "Model", "fraud-detector", {"owner": "risk-analytics", "system": "credit-decisioning"}
    )
    r = api.post(
        "/api/v1/apply", content=yaml.safe_dump(doc), headers={"Content-Type": "application/yaml"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["created"] == ["model:default/fraud-detector"]
    with ws.read() as session:
        (event,) = audit.list_events(session, subject="model:default/fraud-detector")
    assert event.actor == {"id": "user:default/chen.wu", "via": "token"}
    assert event.action == "catalog.entity.created"
    again = api.post("/api/v1/apply", json={"documents": [doc]})
    assert again.json()["created"] == [] and again.json()["unchanged"] == 1


def test_a_viewer_cannot_write_and_nothing_changes(api, ws):
    with ws.read() as session:
        before = audit.head(session)
    r = api.post("/api/v1/apply", role="viewer", json={"documents": [entity("Model", "x", {})]})
    body = assert_problem(r, 403)
    assert "editor" in body["detail"]
    with ws.read() as session:
        assert audit.head(session) == before


@pytest.mark.parametrize(
    ("content", "content_type", "status"),
    [
        ("kind: [", "application/yaml", 422),
        ("{not json", "application/json", 400),
        ('{"documents": 3}', "application/json", 422),
        (
            "apiVersion: keel.dev/v1\nkind: Widget\nmetadata: {name: w}\nspec: {}\n",
            "application/yaml",
            422,
        ),
        ("a,b", "text/csv", 415),
        (b"\xff\xfe", "application/yaml", 400),
    ],
)
def test_bad_bodies_get_a_problem_and_change_nothing(api, ws, content, content_type, status):
    with ws.read() as session:
        before = audit.head(session)
    r = api.post("/api/v1/apply", content=content, headers={"Content-Type": content_type})
    assert_problem(r, status)
    with ws.read() as session:
        assert audit.head(session) == before


def test_invalid_entities_list_every_problem(api):
    docs = [entity("Model", "Bad Name", {}), entity("Model", "m", {"owner": "component:x"})]
    body = assert_problem(api.post("/api/v1/apply", json={"documents": docs}), 422)
    assert len(body["errors"]) == 2
    assert any("metadata.name" in e for e in body["errors"])


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("/api/v1/entities/model/default/nothing", None, 404),
        ("/api/v1/map/impact", {"ref": "model:nothing"}, 404),
        ("/api/v1/map/impact", {"ref": "x", "direction": "sideways"}, 422),
        ("/api/v1/pods/nothing", None, 404),
        ("/api/v1/entities", {"limit": 0}, 422),
        ("/api/v1/events", {"since": "yesterday"}, 422),
        ("/api/v1/nowhere", None, 404),
    ],
)
def test_unknown_refs_and_bad_parameters(api, path, params, status):
    assert_problem(api.get(path, params=params), status)


def test_tokens_are_admin_only_shown_once_and_revocable(api):
    assert_problem(api.get("/api/v1/tokens", role="editor"), 403)
    created = api.post(
        "/api/v1/tokens", role="admin", json={"user": "user:dara.kim", "role": "viewer"}
    )
    assert created.status_code == 201
    secret, token_id = created.json()["token"], created.json()["id"]
    listed = api.get("/api/v1/tokens", role="admin").json()["tokens"]
    assert token_id in {t["id"] for t in listed}
    assert all("token" not in t and secret not in str(t) for t in listed)
    headers = {"Authorization": f"Bearer {secret}"}
    assert api.client.get("/api/v1/entities", headers=headers).status_code == 200
    revoked = api.client.delete(f"/api/v1/tokens/{token_id}", headers=api.auth("admin"))
    assert revoked.json() == {"revoked": [token_id]}
    assert_problem(api.client.get("/api/v1/entities", headers=headers), 401)


def test_tokens_need_a_known_user(api):
    r = api.post("/api/v1/tokens", role="admin", json={"user": "user:ghost", "role": "viewer"})
    assert_problem(r, 404)


def test_events_are_filtered(api):
    events = api.get("/api/v1/events", params={"subject": "model:default/credit-scorer"}).json()[
        "events"
    ]
    assert [e["action"] for e in events] == ["catalog.entity.created"]


def test_sessions_are_not_api_tokens_and_die_with_their_token(api, ws):
    from keel.auth import create_token, verify

    with ws.write(user_actor_of("ana.lima")) as session:
        info, token = create_token(session, user_actor_of("ana.lima"), "dara.kim", "viewer")
    login = api.client.post(
        "/login", data={"token": token}, follow_redirects=False, headers=SAME_SITE
    )
    assert login.status_code == 303
    cookie = api.client.cookies.get("keel_session")
    assert cookie and api.client.get("/").status_code == 200
    # a session cookie is no bearer token
    assert_problem(
        api.client.get("/api/v1/entities", headers={"Authorization": f"Bearer {cookie}"}), 401
    )
    api.client.delete(f"/api/v1/tokens/{info.id}", headers=api.auth("admin"))
    with ws.read() as session:
        assert verify(session, cookie, kind="session") is None  # revoked with its token


def test_a_get_never_spends_a_login_code(api, ws):
    from keel.auth import create_token

    with ws.write(user_actor_of("ana.lima")) as session:
        _, code = create_token(
            session, user_actor_of("ana.lima"), "ana.lima", "viewer", kind="login"
        )
    for _ in range(2):
        assert "Log in" in api.client.get("/login/code", params={"c": code}).text
    spent = api.client.post(
        "/login/code", data={"c": code}, follow_redirects=False, headers=SAME_SITE
    )
    assert spent.status_code == 303
    again = api.client.post(
        "/login/code", data={"c": code}, follow_redirects=False, headers=SAME_SITE
    )
    assert "already used" in again.text
    cross = api.client.post(
        "/login", data={"token": "x"}, headers={"Origin": "https://evil.example"}
    )
    assert cross.status_code == 403


def test_too_deep_json_and_non_systems_are_refused(api):
    deep = entity("Resource", "deep", {"type": "db", "owner": "g"})
    nested: list = []
    for _ in range(80):
        nested = [nested]
    deep["spec"]["extra"] = nested
    assert_problem(api.post("/api/v1/apply", json={"documents": [deep]}), 422)
    body = '{"documents":' + "[" * 100_000
    assert_problem(
        api.post("/api/v1/apply", content=body, headers={"Content-Type": "application/json"}), 400
    )
    assert_problem(api.get("/api/v1/map/validate", params={"system": "model:credit-scorer"}), 404)
    assert_problem(api.get("/api/v1/events", params={"actor": "model:x"}), 422)


def test_workspace_mode_through_the_api(api, ws):
    assert api.get("/api/v1/workspace").json()["mode"] == "embedded"
    assert_problem(
        api.client.put(
            "/api/v1/workspace/mode", json={"mode": "server"}, headers=api.auth("editor")
        ),
        403,
    )
    r = api.client.put("/api/v1/workspace/mode", json={"mode": "server"}, headers=api.auth("admin"))
    assert r.json() == {"mode": "server", "changed": True}
    r = api.client.put(
        "/api/v1/workspace/mode", json={"mode": "embedded"}, headers=api.auth("admin")
    )
    assert r.json()["changed"] is True


def user_actor_of(name):
    from keel.identity import user_actor

    return user_actor(name, "local")


def test_audit_endpoints(api, ws):
    from keel.audit import checkpoints, merkle, note

    with ws.write(user_actor_of("ana.lima")) as session:
        checkpoints.checkpoint(session, ws.signer())
    text = api.get("/api/v1/audit/checkpoint").text
    keys = api.get("/api/v1/audit/keys").json()
    opened = note.open_note(
        text, [note.VerifierKey(k["name"], bytes.fromhex(k["public_key"])) for k in keys["keys"]]
    )
    proof = api.get("/api/v1/audit/proof", params={"leaf": 2}).json()
    merkle.verify_inclusion(
        1,
        opened.size,
        bytes.fromhex(proof["leaf_hash"]),
        [bytes.fromhex(h) for h in proof["proof"]],
        opened.root,
    )
    consistency = api.get("/api/v1/audit/proof", params={"from": 1}).json()
    assert consistency["kind"] == "consistency" and consistency["size"] == opened.size
    assert_problem(api.get("/api/v1/audit/proof"), 422)
    assert_problem(api.get("/api/v1/audit/proof", params={"leaf": 10**9}), 400)
