"""The model server's OpenAI-compatible ASGI app (Starlette; not on any hot path of Keel's).

POST /v1/predict/{model}     {"rows": [[...20 values...] | {column: value}, ...]}
POST /v1/chat/completions    the support assistant: retrieval over the knowledge base;
                             "stream": true answers as SSE chunks, usage last when
                             stream_options.include_usage is set
POST /v1/embeddings          the retrieval index's vectors (TF-IDF + SVD)
GET  /v1/models
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from keel.serving.models import Models, count_tokens

SUPPORT = "support-assistant"


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


def _error(status: int, message: str, code: str) -> Response:
    kind = "invalid_request_error" if status < 500 else "api_error"
    return _json({"error": {"message": message, "type": kind, "param": None, "code": code}}, status)


async def _body(request: Request) -> dict[str, Any] | Response:
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        return _error(400, "the body is not JSON", "invalid_json")
    if not isinstance(body, dict):
        return _error(400, "the body must be a JSON object", "invalid_json")
    return body


def create_app(models: Models) -> Starlette:
    async def list_models(_: Request) -> Response:
        ids = sorted(models.tabular) + ([SUPPORT] if models.index else [])
        return _json(
            {
                "object": "list",
                "data": [
                    {"id": i, "object": "model", "created": 0, "owned_by": "keel"} for i in ids
                ],
            }
        )

    async def predict(request: Request) -> Response:
        name = request.path_params["model"]
        model = models.tabular.get(name)
        if model is None:
            return _error(404, f"no model {name!r} here", "model_not_found")
        body = await _body(request)
        if isinstance(body, Response):
            return body
        rows = body.get("rows", body.get("instances"))
        if not isinstance(rows, list) or not rows or len(rows) > 10_000:
            return _error(400, 'send 1 to 10,000 rows as {"rows": [...]}', "invalid_rows")
        try:
            data = model.predict(rows)
        except ValueError as exc:
            return _error(400, str(exc), "invalid_rows")
        return _json({"object": "list", "model": name, "data": data, "usage": {"rows": len(rows)}})

    async def chat(request: Request) -> Response:
        if models.index is None:
            return _error(404, "no retrieval index here", "model_not_found")
        body = await _body(request)
        if isinstance(body, Response):
            return body
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return _error(400, "messages must be a non-empty list", "invalid_messages")
        texts = [m.get("content") for m in messages if isinstance(m, dict)]
        if not all(isinstance(t, str) for t in texts) or not texts:
            return _error(400, "every message needs a string content", "invalid_messages")
        question = next(
            (m["content"] for m in reversed(messages) if m.get("role") == "user"), texts[-1]
        )
        article, reply = models.index.answer(question)
        limit = body.get("max_tokens") or body.get("max_completion_tokens")
        if isinstance(limit, int) and limit > 0:
            words = reply.split(" ")
            while count_tokens(" ".join(words)) > limit and len(words) > 1:
                words = words[: max(1, len(words) * 3 // 4)]
            reply = " ".join(words)
        prompt = sum(count_tokens(t) for t in texts)
        usage = {
            "prompt_tokens": prompt,
            "completion_tokens": count_tokens(reply),
            "total_tokens": prompt + count_tokens(reply),
        }
        ident, created = f"chatcmpl-{uuid.uuid4().hex[:12]}", int(time.time())
        model = body.get("model") or SUPPORT
        if body.get("stream") is True:
            include = (body.get("stream_options") or {}).get("include_usage") is True
            return StreamingResponse(
                _chunks(ident, created, model, reply, usage if include else None),
                media_type="text/event-stream",
            )
        return _json(
            {
                "id": ident,
                "object": "chat.completion",
                "created": created,
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": reply},
                        "finish_reason": "stop",
                    }
                ],
                "usage": usage,
                "keel": {"article": article},
            }
        )

    async def embeddings(request: Request) -> Response:
        if models.index is None:
            return _error(404, "no retrieval index here", "model_not_found")
        body = await _body(request)
        if isinstance(body, Response):
            return body
        given = body.get("input")
        inputs = [given] if isinstance(given, str) else given
        if (
            not isinstance(inputs, list)
            or not inputs
            or not all(isinstance(t, str) for t in inputs)
        ):
            return _error(400, "input must be a string or a list of strings", "invalid_input")
        vectors = models.index.embed(inputs)
        tokens = sum(count_tokens(t) for t in inputs)
        return _json(
            {
                "object": "list",
                "model": body.get("model") or SUPPORT,
                "data": [
                    {
                        "object": "embedding",
                        "index": i,
                        "embedding": [round(float(x), 6) for x in v],
                    }
                    for i, v in enumerate(vectors)
                ],
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )

    return Starlette(
        routes=[
            Route("/v1/models", list_models, methods=["GET"]),
            Route("/v1/predict/{model}", predict, methods=["POST"]),
            Route("/v1/chat/completions", chat, methods=["POST"]),
            Route("/v1/embeddings", embeddings, methods=["POST"]),
        ]
    )


async def _chunks(ident: str, created: int, model: str, reply: str, usage: dict | None):
    def event(delta: dict, finish: str | None = None, **extra: Any) -> bytes:
        chunk = {
            "id": ident,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **extra,
        }
        return b"data: " + orjson.dumps(chunk) + b"\n\n"

    yield event({"role": "assistant", "content": ""})
    words = reply.split(" ")
    for i in range(0, len(words), 8):
        piece = " ".join(words[i : i + 8])
        yield event({"content": piece if i == 0 else " " + piece})
    yield event({}, "stop")
    if usage is not None:
        yield (
            b"data: "
            + orjson.dumps(
                {
                    "id": ident,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": model,
                    "choices": [],
                    "usage": usage,
                }
            )
            + b"\n\n"
        )
    yield b"data: [DONE]\n\n"
