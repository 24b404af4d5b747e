"""The demo's model server over real HTTP: the credit models, the support assistant, its errors."""

from __future__ import annotations

import json
import shutil

import httpx
import pytest

from keel.demo.credit import COLUMNS, NUMERIC
from keel.demo.support import build_index
from keel.serving.app import create_app
from keel.serving.models import load_models
from tests.conftest import EXAMPLES, GERMAN_CREDIT
from tests.servers import serving

ARTICLES = EXAMPLES / "demo" / "knowledge-base"


@pytest.fixture(scope="module")
def server(credit_artifacts, tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    for name, path in credit_artifacts.items():
        shutil.copy(path, folder / f"{name}.skops")
    index, _ = build_index(ARTICLES)
    index.save(folder / "kb-index")
    with serving(create_app(load_models(folder, ARTICLES))) as url:
        yield url, sorted(credit_artifacts)


def _rows(n: int) -> list[list]:
    """The first `n` applicants of the data file, without their class, numbers as numbers."""
    rows = [line.split()[: len(COLUMNS)] for line in GERMAN_CREDIT.read_text().splitlines()[:n]]
    return [
        [float(v) if c in NUMERIC else v for c, v in zip(COLUMNS, row, strict=True)] for row in rows
    ]


def test_models_are_listed(server):
    url, names = server
    listed = httpx.get(f"{url}/v1/models").json()["data"]
    assert [m["id"] for m in listed] == [*names, "support-assistant"]


def test_a_credit_model_scores_rows_as_given_in_the_data_file(server):
    url, names = server
    answer = httpx.post(f"{url}/v1/predict/{names[0]}", json={"rows": _rows(5)})
    assert answer.status_code == 200
    data = answer.json()
    assert data["usage"] == {"rows": 5} and [d["index"] for d in data["data"]] == list(range(5))
    assert all(0 <= d["probability_bad"] <= 1 for d in data["data"])
    as_dicts = [dict(zip(COLUMNS, row, strict=True)) for row in _rows(5)]
    again = httpx.post(f"{url}/v1/predict/{names[0]}", json={"rows": as_dicts}).json()
    assert again["data"] == data["data"]  # rows by column name score the same


@pytest.mark.parametrize(
    "path, body, status, code",
    [
        ("/v1/predict/nope", {"rows": [[1]]}, 404, "model_not_found"),
        ("/v1/chat/completions", {"messages": []}, 400, "invalid_messages"),
        (
            "/v1/chat/completions",
            {"messages": [{"role": "user", "content": 3}]},
            400,
            "invalid_messages",
        ),
        ("/v1/embeddings", {"input": [1, 2]}, 400, "invalid_input"),
    ],
)
def test_bad_requests_get_an_openai_style_error(server, path, body, status, code):
    url, _ = server
    answer = httpx.post(f"{url}{path}", json=body)
    assert answer.status_code == status
    assert answer.json()["error"]["code"] == code


def test_rows_the_model_cannot_read_are_a_400(server):
    url, names = server
    answer = httpx.post(f"{url}/v1/predict/{names[0]}", json={"rows": [["x"] * 3]})
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "invalid_rows"
    assert httpx.post(f"{url}/v1/predict/{names[0]}", content=b"{not json").status_code == 400


def test_the_assistant_answers_from_the_knowledge_base_and_streams(server):
    url, _ = server
    question = {"messages": [{"role": "user", "content": "I lost my card, what do I do?"}]}
    answer = httpx.post(f"{url}/v1/chat/completions", json=question).json()
    assert answer["keel"]["article"] == "card-lost-stolen"
    usage = answer["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    with httpx.stream(
        "POST",
        f"{url}/v1/chat/completions",
        json={**question, "stream": True, "stream_options": {"include_usage": True}},
    ) as streamed:
        events = [line[6:] for line in streamed.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == answer["choices"][0]["message"]["content"]
    assert chunks[-1]["usage"] == usage


def test_embeddings_have_one_vector_per_input(server):
    url, _ = server
    data = httpx.post(f"{url}/v1/embeddings", json={"input": ["card", "loan"]}).json()["data"]
    assert [d["index"] for d in data] == [0, 1]
    assert len(data[0]["embedding"]) == len(data[1]["embedding"]) > 0
