"""The gateway's own OpenAPI 3.0 document, served at GET /openapi.json on the traffic port.

It describes what the gateway itself accepts and answers (the upstream's fields pass
through untouched), and is what the schemathesis fuzz test runs against.
"""

from __future__ import annotations

from typing import Any

_ERROR = {
    "description": "An OpenAI-style error.",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}
_ERRORS = {
    code: _ERROR
    for code in ("400", "401", "403", "404", "405", "413", "415", "429", "502", "503", "504")
}


def _ok(description: str, schema: dict[str, Any], stream: bool = False) -> dict[str, Any]:
    content: dict[str, Any] = {"application/json": {"schema": schema}}
    if stream:
        content["text/event-stream"] = {"schema": {"type": "string"}}
    return {"description": description, "content": content}


def _post(summary: str, body: dict[str, Any], ok: dict[str, Any]) -> dict[str, Any]:
    return {
        "post": {
            "summary": summary,
            "security": [{"key": []}],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": body}},
            },
            "responses": {"200": ok, **_ERRORS},
        }
    }


def document() -> dict[str, Any]:
    message = {
        "type": "object",
        "required": ["role", "content"],
        "properties": {
            "role": {"type": "string", "enum": ["system", "user", "assistant", "tool"]},
            "content": {"type": "string"},
        },
    }
    chat = {
        "type": "object",
        "required": ["messages"],
        "properties": {
            "model": {"type": "string", "description": "The endpoint (an API of the map)."},
            "messages": {"type": "array", "items": message, "minItems": 1},
            "max_tokens": {"type": "integer", "minimum": 1},
            "stream": {"type": "boolean"},
        },
    }
    embeddings = {
        "type": "object",
        "required": ["input"],
        "properties": {
            "model": {"type": "string"},
            "input": {
                "oneOf": [
                    {"type": "string"},
                    {"type": "array", "items": {"type": "string"}, "minItems": 1},
                ]
            },
        },
    }
    predict = {
        "type": "object",
        "required": ["rows"],
        "properties": {
            "rows": {
                "type": "array",
                "minItems": 1,
                "items": {"oneOf": [{"type": "array"}, {"type": "object"}]},
            }
        },
    }
    anything = {"type": "object"}
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Keel gateway",
            "version": "1",
            "description": "OpenAI-compatible data plane: keys, routes, limits, traffic log.",
        },
        "paths": {
            "/v1/chat/completions": _post(
                "Chat completion (stream: true for SSE)", chat, _ok("The answer.", anything, True)
            ),
            "/v1/embeddings": _post("Embeddings", embeddings, _ok("The vectors.", anything)),
            "/v1/predict/{endpoint}": {
                **_post("Predictions for tabular rows", predict, _ok("Predictions.", anything)),
                "parameters": [
                    {
                        "name": "endpoint",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "pattern": "^[A-Za-z0-9._-]+$"},
                    }
                ],
            },
            "/v1/models": {
                "get": {
                    "summary": "The endpoints this key may call in its environment",
                    "security": [{"key": []}],
                    "responses": {"200": _ok("A list.", anything), **_ERRORS},
                }
            },
        },
        "components": {
            "securitySchemes": {"key": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["message", "type", "code"],
                            "properties": {
                                "message": {"type": "string"},
                                "type": {"type": "string"},
                                "param": {"nullable": True},
                                "code": {"type": "string"},
                            },
                        }
                    },
                }
            },
        },
    }
