"""Schemathesis drives a real gateway process from its own OpenAPI document (fixed seed):
whatever it sends, the answer is documented, never a 5xx from the gateway itself, and
every error is an OpenAI-style body."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, seed, settings


def test_no_crash_and_openai_errors(sqlite_served, run_gateway):
    gw = run_gateway(sqlite_served.settings)
    schema = schemathesis.openapi.from_url(f"{gw.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 4
    for operation in operations:

        @seed(20261125)
        @settings(
            max_examples=40,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def check(case):
            case.headers = {
                **(case.headers or {}),
                "Authorization": f"Bearer {sqlite_served.prod_key}",
            }
            response = case.call(base_url=gw.url)
            where = f"{case.method} {case.formatted_path}: {response.text[:300]}"
            assert response.status_code < 500, where
            if response.status_code >= 400:
                error = response.json()["error"]
                assert error["message"] and error["type"], where

        check()
    assert gw.popen.poll() is None
