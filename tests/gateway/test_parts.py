"""Small parts: token counts, the breaker, the model server's answers."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from keel.gateway import tokens
from keel.gateway.breaker import Breaker
from keel.serving.app import create_app
from keel.serving.models import load_models
from tests.gateway.conftest import CREDIT_ROW


def test_reservations_count_prompt_and_max_tokens():
    body = {"messages": [{"role": "user", "content": "x" * 40}], "max_tokens": 100}
    assert tokens.reservation("chat", body) == 3 + 4 + 10 + 100
    parts = {"messages": [{"role": "user", "content": [{"type": "text", "text": "abcd"}]}]}
    assert tokens.reservation("chat", parts) == 3 + 4 + 1 + tokens.DEFAULT_COMPLETION
    assert tokens.reservation("embeddings", {"input": ["abcd", "abcdefgh"]}) == 3
    assert tokens.reservation("embeddings", {"input": [1, 2, 3]}) == 3
    assert tokens.reservation("predict", {"rows": [[1]]}) == 0
    assert tokens.reservation("chat", {"messages": "nonsense", "max_tokens": True}) == 256


def test_breaker_counts_failures_in_a_row():
    now = [0.0]
    breaker = Breaker(threshold=2, cooldown=10, clock=lambda: now[0])
    breaker.failure("u")
    breaker.success("u")
    breaker.failure("u")
    assert breaker.check("u") is None  # one failure in a row
    breaker.failure("u")
    assert breaker.is_open("u") and breaker.check("u") == 10
    now[0] = 10.5
    assert breaker.check("u") is None  # the probe
    assert breaker.check("u") == 1  # only one at a time
    breaker.failure("u")  # the probe failed: open again
    assert breaker.check("u") == 10


@pytest.fixture(scope="module")
def served(model_artifacts) -> TestClient:
    return TestClient(create_app(load_models(model_artifacts)))


def test_model_server_predicts_answers_and_embeds(served):
    models = served.get("/v1/models").json()["data"]
    assert {m["id"] for m in models} == {"credit-scorer", "credit-scorecard", "support-assistant"}
    named = dict(zip(["checking_status", "duration"], CREDIT_ROW[:2], strict=True))
    from keel.demo.credit import COLUMNS

    as_dict = dict(zip(COLUMNS, CREDIT_ROW, strict=True))
    scored = served.post("/v1/predict/credit-scorecard", json={"rows": [CREDIT_ROW, as_dict]})
    assert scored.status_code == 200
    first, second = scored.json()["data"]
    assert first["probability_bad"] == second["probability_bad"]
    for bad in ({"rows": []}, {"rows": [named]}, {"rows": [["A11"] * 20]}, {"x": 1}):
        answer = served.post("/v1/predict/credit-scorer", json=bad)
        assert answer.status_code == 400 and answer.json()["error"]["code"] == "invalid_rows"
    assert served.post("/v1/predict/nope", json={"rows": [CREDIT_ROW]}).status_code == 404

    chat = served.post(
        "/v1/chat/completions",
        json={"messages": [{"role": "user", "content": "How do I change my address?"}]},
    ).json()
    assert chat["keel"]["article"] == "change-address"
    assert chat["usage"]["completion_tokens"] > 10
    short = served.post(
        "/v1/chat/completions",
        json={"messages": [{"role": "user", "content": "address"}], "max_tokens": 5},
    ).json()
    assert short["usage"]["completion_tokens"] <= 5
    vectors = served.post("/v1/embeddings", json={"input": "lost card"}).json()["data"]
    assert len(vectors) == 1 and abs(sum(x * x for x in vectors[0]["embedding"]) - 1) < 1e-3
    assert served.post("/v1/embeddings", json={"input": 5}).status_code == 400


def test_model_server_refuses_types_outside_the_allow_list(tmp_path):
    from skops.io import dump

    from keel.serving.models import load_tabular

    dump({"f": pytest.approx}, tmp_path / "odd.skops")
    with pytest.raises(ValueError, match="outside the allow-list"):
        load_tabular(tmp_path / "odd.skops")


def test_anomalies_are_judged_against_the_keys_own_baseline():
    from keel.gateway.anomaly import Detector

    now = [0.0]
    detector = Detector(mode="throttle", burst_floor=20, error_floor=5, clock=lambda: now[0])
    for second in range(60):  # a steady 10 requests per 10 s bucket, a few errors
        now[0] = float(second)
        assert detector.observe("k", 500 if second % 20 == 0 else 200) == []
    assert detector.admit("k") is None
    now[0] = 60.0
    found = [a for _ in range(60) for a in detector.observe("k", 200)]
    assert [a.kind for a in found] == ["burst"]  # once per bucket
    figures = found[0].figures
    assert figures["baseline"] > 5 and figures["requests"] > 5 * figures["baseline"]
    assert detector.admit("k") is not None  # throttled to the baseline for the rest
    now[0] = 75.0  # next bucket: the baseline's worth passes, then throttled again
    allowed = sum(detector.admit("k") is None and not detector.observe("k", 200) for _ in range(40))
    assert 5 <= allowed <= 30
    now[0] = 200.0  # the throttle has run out
    assert detector.admit("k") is None
    spike = [a for _ in range(12) for a in detector.observe("k", 502)]
    assert [a.kind for a in spike] == ["error_spike"]
    assert spike[0].figures["errors"] == 5


def test_a_new_key_is_judged_against_the_floor():
    from keel.gateway.anomaly import Detector

    detector = Detector(mode="alert", burst_floor=30, clock=lambda: 0.0)
    kinds = [a.kind for _ in range(40) for a in detector.observe("new", 200)]
    assert kinds == ["burst"]
    assert detector.admit("new") is None  # alert mode never throttles
    with pytest.raises(ValueError):
        Detector(mode="panic")


def test_the_traffic_log_appends_batches_to_the_audit_spine(ws):
    """Each backend: request and anomaly records become events of the `traffic` log."""
    from keel import audit
    from keel.gateway.traffic import TrafficLog

    written: list[int] = []
    log = TrafficLog(ws, batch=3, on_write=lambda w, d: written.append(w))
    for i in range(7):
        log.record({"request": f"r{i}", "endpoint": "api:default/x", "status": 200})
    log.record(
        {"kind": "burst", "key": "gk_1"}, action="gateway.anomaly.detected", subject="consumer:c"
    )
    assert log.pending() == 8
    assert log.flush() == 8 and written == [8] and log.pending() == 0
    with ws.read() as session:
        events = audit.list_events(session, log="traffic")
        assert audit.list_events(session, action="gateway.request.handled") == []  # not governance
    assert [e.seq for e in events] == list(range(1, 9))
    assert events[0].subject == "api:default/x" and events[0].details["request"] == "r0"
    assert (events[-1].action, events[-1].subject) == ("gateway.anomaly.detected", "consumer:c")
    assert events[-1].actor == {"id": "user:keel/gateway", "via": "system"}
