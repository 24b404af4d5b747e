"""Schemathesis drives the API from its own OpenAPI document (fixed seed): never a 5xx."""

from __future__ import annotations

from datetime import datetime

import pytest
import schemathesis
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from keel.api import create_app
from keel.api.gateway import LIMIT_MAX
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


EDGE_TIMES = st.builds(
    lambda moment, minutes: (
        f"{moment.isoformat()}{'+' if minutes >= 0 else '-'}"
        f"{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    ),
    st.sampled_from([datetime.min, datetime.max]) | st.datetimes(),
    st.integers(-14 * 60 + 1, 14 * 60 - 1),
)
HUGE = st.integers(LIMIT_MAX + 1, 2**70) | st.integers(-(2**70), 0)


def test_edge_dates_and_huge_integers_are_never_a_5xx(fuzz_target):
    """Review finding 5: an offset at the ends of the calendar, an integer past 64 bits."""
    from fastapi.testclient import TestClient

    schema, token = fuzz_target
    client = TestClient(schema.app)
    auth = {"Authorization": f"Bearer {token}"}

    @settings(max_examples=60, deadline=None, database=None, derandomize=True)
    @given(since=EDGE_TIMES, number=HUGE, field=st.sampled_from(["rpm", "tpm"]))
    def check(since, number, field):
        answer = client.get("/api/v1/events", params={"since": since}, headers=auth)
        assert answer.status_code in (200, 422), (since, answer.text)
        key = {"consumer": "c", "endpoints": ["x"], "environment": "staging", field: number}
        answer = client.post("/api/v1/gateway/keys", json=key, headers=auth)
        assert answer.status_code == 422, (number, answer.text)

    check()
