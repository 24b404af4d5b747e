"""An API client over a workspace with the demo catalog and tokens of each role."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from keel.api import create_app
from keel.auth import create_token
from keel.catalog import service
from keel.identity import user_actor
from tests.conftest import EXAMPLES

SAME_SITE = {"Origin": "http://testserver"}  # what a browser sends posting our own forms


@dataclass
class Api:
    client: TestClient
    tokens: dict[str, str]

    def get(self, path: str, role: str = "viewer", **kwargs):
        return self.client.get(path, headers=self.auth(role), **kwargs)

    def post(self, path: str, role: str = "editor", **kwargs):
        headers = {**self.auth(role), **kwargs.pop("headers", {})}
        return self.client.post(path, headers=headers, **kwargs)

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


@pytest.fixture
def api(ws, admin) -> Api:
    """The demo catalog; tokens: viewer (dara.kim), editor (chen.wu), admin (ana.lima)."""
    loaded = service.load([EXAMPLES / "demo" / "catalog"])
    with ws.write(admin) as session:
        service.apply(session, admin, loaded.entities)
        tokens = {
            role: create_token(session, admin, user, role)[1]
            for role, user in (("viewer", "dara.kim"), ("editor", "chen.wu"), ("admin", "ana.lima"))
        }
    with TestClient(create_app(ws=ws), raise_server_exceptions=False) as client:
        yield Api(client, tokens)


@pytest.fixture
def editor_actor():
    return user_actor("chen.wu", "token")
