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
