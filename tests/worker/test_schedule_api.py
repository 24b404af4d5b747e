"""/api/v1/schedule and `keel schedule pause|resume` through it, as in server mode."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from keel.api import create_app
from keel.auth import create_token
from keel.catalog import service
from keel.cli.main import run as keel
from keel.workspace.core import set_mode
from tests.conftest import EXAMPLES
from tests.servers import serving
from tests.worker.helpers import events


@pytest.fixture
def tokens(ws, admin):
    loaded = service.load([EXAMPLES / "demo" / "catalog"])
    with ws.write(admin) as session:
        service.apply(session, admin, loaded.entities)
        return {
            role: create_token(session, admin, user, role)[1]
            for role, user in (("viewer", "dara.kim"), ("admin", "ana.lima"))
        }


def test_the_schedule_is_read_by_viewers_and_changed_by_admins(ws, tokens):
    def auth(role):
        return {"Authorization": f"Bearer {tokens[role]}"}

    with TestClient(create_app(ws=ws), raise_server_exceptions=False) as client:
        listed = client.get("/api/v1/schedule", headers=auth("viewer")).json()["jobs"]
        assert "audit.verify" in {j["name"] for j in listed}
        assert (
            client.post("/api/v1/schedule/audit.verify/pause", headers=auth("viewer")).status_code
            == 403
        )
        answer = client.post("/api/v1/schedule/audit.verify/pause", headers=auth("admin"))
        assert answer.status_code == 200 and answer.json() == {
            "name": "audit.verify",
            "paused": True,
        }
        again = client.post("/api/v1/schedule/audit.verify/pause", headers=auth("admin"))
        assert again.status_code == 409 and "already paused" in again.json()["detail"]
        missing = client.get("/api/v1/schedule/no.such", headers=auth("viewer"))
        assert (
            missing.status_code == 404
            and missing.headers["content-type"] == "application/problem+json"
        )
        shown = client.get("/api/v1/schedule/audit.verify", headers=auth("viewer")).json()
        assert shown["paused"] is True and shown["recent"] == []
    (event,) = events(ws, "worker.job.paused")
    assert event.actor == {"id": "user:default/ana.lima", "via": "token"}


def test_in_server_mode_the_cli_pauses_through_the_api(ws, tokens, admin, monkeypatch, capsys):
    with ws.write(admin) as session:
        set_mode(session, admin, "server")
    monkeypatch.setenv("KEEL_HOME", str(ws.settings.home))
    monkeypatch.setenv("KEEL_DATABASE_URL", ws.settings.database_url)
    assert keel(["schedule", "pause", "readiness.rescore"]) == 2  # a local identity is refused
    assert "server mode" in capsys.readouterr().err
    with serving(create_app(ws=ws)) as url:
        monkeypatch.setenv("KEEL_URL", url)
        monkeypatch.setenv("KEEL_TOKEN", tokens["admin"])
        assert keel(["schedule", "pause", "readiness.rescore"]) == 0
        assert keel(["schedule", "resume", "readiness.rescore"]) == 0
    assert [
        e.action for e in events(ws, "worker.job.paused") + events(ws, "worker.job.resumed")
    ] == [
        "worker.job.paused",
        "worker.job.resumed",
    ]
