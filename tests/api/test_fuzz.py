"""Schemathesis drives the API from its own OpenAPI document (fixed seed): never a 5xx."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, seed, settings

from keel.api import create_app
from keel.auth import create_token
from keel.catalog import service
from tests.conftest import EXAMPLES


@pytest.fixture
def fuzz_target(sqlite_ws, admin):
    loaded = service.load([EXAMPLES / "demo" / "catalog"])
    with sqlite_ws.write(admin) as session:
        service.apply(session, admin, loaded.entities)
        _, token = create_token(session, admin, "ana.lima", "admin")
    app = create_app(ws=sqlite_ws)
    return schemathesis.openapi.from_asgi("/api/v1/openapi.json", app), token


def test_no_server_errors(fuzz_target):
    """Every operation, 30 generated requests each; schemathesis' pytest plugin is not used."""
    schema, token = fuzz_target
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 9
    for operation in operations:

        @seed(20261125)
        @settings(
            max_examples=30,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def check(case):
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
            response = case.call()
            where = f"{case.method} {case.formatted_path}"
            assert response.status_code < 500, f"{where}: {response.text}"
            if response.status_code >= 400:
                content_type = response.headers.get("content-type", [""])[0]
                assert content_type.startswith("application/problem+json"), where

        check()
