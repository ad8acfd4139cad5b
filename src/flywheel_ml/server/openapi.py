"""The gateway's OpenAPI document, served at ``/openapi.json``."""

from __future__ import annotations

from typing import Any

_ERROR = {
    "type": "object",
    "properties": {
        "error": {"type": "string"},
        "message": {"type": "string"},
        "hint": {"type": "string"},
    },
}


def gateway_openapi() -> dict[str, Any]:
    """An OpenAPI 3.1 description of the prediction gateway's routes."""
    row = {"type": "array", "items": {"type": "number"}}
    request = {
        "type": "object",
        "properties": {
            "rows": {"type": "array", "items": row, "description": "feature order as in training"},
            "records": {"type": "array", "items": {"type": "object"}},
            "columns": {"type": "object", "additionalProperties": row},
            "key": {"type": "string", "description": "makes canary routing sticky"},
            "probabilities": {"type": "boolean", "default": True},
        },
    }
    answer = {
        "type": "object",
        "properties": {
            "model_version": {"type": "string", "example": "digits-clf@v3"},
            "predictions": {"type": "array", "items": {}},
            "probabilities": {"type": ["array", "null"], "items": row},
            "request_id": {"type": "string"},
        },
    }
    errors = {
        str(code): {
            "description": text,
            "content": {"application/json": {"schema": _ERROR}},
        }
        for code, text in (
            (400, "the body is not valid JSON, Arrow or Parquet"),
            (404, "the model is not deployed"),
            (413, "too many bytes or rows"),
            (422, "wrong shape, unknown features, NaN or infinite values"),
            (503, "overloaded (Retry-After) or the deployed version cannot be loaded"),
        )
    }
    predict = {
        "post": {
            "summary": "Predict with the model's champion (or canary, by request key)",
            "parameters": [
                {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}},
                {"name": "X-Flywheel-Key", "in": "header", "schema": {"type": "string"}},
            ],
            "requestBody": {
                "content": {
                    "application/json": {"schema": request},
                    "application/vnd.apache.arrow.stream": {},
                    "application/x-parquet": {},
                }
            },
            "responses": {
                "200": {
                    "description": "answers, naming the version that produced them",
                    "content": {"application/json": {"schema": answer}},
                },
                **errors,
            },
        }
    }
    simple = {"get": {"responses": {"200": {"description": "OK"}}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Flywheel prediction gateway", "version": "1"},
        "paths": {
            "/v1/models/{name}/predict": predict,
            "/v1/models": simple,
            "/healthz": simple,
            "/readyz": {"get": {"responses": {"200": {"description": "ready"}, "503": {}}}},
            "/metrics": simple,
        },
    }
