"""The API's OpenAPI document, served at ``/openapi.json`` (and browsable at ``/docs``).

FastAPI derives paths and parameters from the routes; the routes read their JSON bodies
and uploads themselves (bounded streams), so this module adds what it cannot see: the
request bodies, the bearer token, each answer's shape, and the one-line error
``{"error": "..."}`` behind every 4xx and the 503 of an overloaded server. FastAPI's
default 422 validation answer is replaced: the service answers a malformed request
with 400."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

API = "/api/v1"
ERROR = {"$ref": "#/components/schemas/Error"}
BEARER: list[dict[str, list[str]]] = [{"bearer": []}]
_STR = {"type": "string"}
_INT = {"type": "integer"}
_NAME = {"type": "string", "minLength": 1, "maxLength": 200}


def _obj(required: dict[str, Any], optional: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "type": "object",
        "required": sorted(required),
        "properties": {**required, **(optional or {})},
    }


_FILE = _obj({"path": _STR, "size": _INT, "blake3": _STR}, {"party": _STR, "role": _STR})
_UPLOAD = _obj(
    {
        "party": _STR,
        "role": _STR,
        "file": _STR,
        "records": _INT,
        "size": _INT,
        "digest": _STR,
    },
    {"campaign": _STR, "uploaded": {}},
)

# (method, path) -> (success status, answer schema, request body, error statuses)
OPERATIONS: dict[tuple[str, str], tuple[str, dict[str, Any], dict[str, Any] | None, str]] = {
    ("get", f"{API}/health"): (
        "200",
        _obj({"status": _STR, "version": _STR, "max_upload": _INT}),
        None,
        "503",
    ),
    ("post", f"{API}/campaigns"): (
        "201",
        _obj(
            {
                "campaign": _STR,
                "reference": _STR,
                "claims": {"type": "array", "items": _STR},
                "tokens": {"type": "object", "additionalProperties": _STR},
            }
        ),
        {
            "application/json": {
                "schema": _obj(
                    {
                        "name": _NAME,
                        "reference": _NAME,
                        "claims": {"type": "array", "items": _NAME, "minItems": 1},
                    },
                    {
                        "schema": _STR,
                        "retention_days": {"type": "integer", "minimum": 1},
                        "auto_run": {"type": "boolean"},
                    },
                )
            }
        },
        "400 401 403 409 413 503",
    ),
    ("post", f"{API}/campaigns/{{name}}/revoke"): (
        "200",
        _obj({"campaign": _STR, "party": _STR, "revoked": _INT}),
        {"application/json": {"schema": _obj({"party": _NAME})}},
        "400 401 403 404 413 503",
    ),
    ("post", f"{API}/campaigns/{{name}}/run"): (
        "202",
        _obj({"campaign": _STR, "job": _INT, "state": _STR}),
        None,
        "400 401 403 404 409 503",
    ),
    ("delete", f"{API}/campaigns/{{name}}"): (
        "200",
        _obj({"campaign": _STR, "uploads": _INT, "jobs": _INT, "tokens": _INT}),
        None,
        "400 401 403 404 409 503",
    ),
    ("get", f"{API}/status"): (
        "200",
        {"type": "object"},  # three shapes: see docs/service.md
        None,
        "400 401 403 404 503",
    ),
    ("get", f"{API}/results"): (
        "200",
        _obj(
            {
                "campaign": _STR,
                "job": _INT,
                "result_digest": _STR,
                "files": {"type": "array", "items": _FILE},
            }
        ),
        None,
        "400 401 403 404 409 503",
    ),
    ("get", f"{API}/results/file"): ("200", {}, None, "400 401 403 404 409 503"),
    ("get", f"{API}/audit-log/verify"): (
        "200",
        _obj({"entries": _INT, "intact": {"type": "boolean"}}, {"broken": {}}),
        None,
        "400 401 403 503",
    ),
    ("put", f"{API}/upload"): (
        "200",
        _UPLOAD,
        {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
        "400 401 403 409 413 422 503",
    ),
}


def document(app: FastAPI) -> None:
    """Serve the completed document as ``app``'s OpenAPI schema."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = complete(
                get_openapi(title=app.title, version=app.version, routes=app.routes)
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def complete(spec: dict[str, Any]) -> dict[str, Any]:
    """``spec`` (as FastAPI generates it) with the bodies, answers and errors added."""
    components = spec.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas["Error"] = {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {"type": "string", "description": "one line"}},
        "additionalProperties": False,
    }
    components["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
    for path, item in spec.get("paths", {}).items():
        for method, op in item.items():
            known = OPERATIONS.get((method, path))
            if known is None:  # a route this module does not know: errors only
                responses = op.setdefault("responses", {})
                responses.pop("422", None)
                continue
            status, answer, body, errors = known
            if method != "get" or path != f"{API}/health":
                op["security"] = BEARER
            if body is not None:
                op["requestBody"] = {"required": True, "content": body}
            if path == f"{API}/upload":
                op.setdefault("parameters", []).append(
                    {
                        "name": "X-Pprl-Filename",
                        "in": "header",
                        "required": False,
                        "schema": _STR,
                        "description": "the file's name, used in messages",
                    }
                )
            content = (
                {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}
                if path == f"{API}/results/file"
                else {"application/json": {"schema": answer}}
            )
            responses = {status: {"description": "success", "content": content}}
            for code in errors.split():
                responses[code] = {
                    "description": "one-line error"
                    + (" (server busy; see Retry-After)" if code == "503" else ""),
                    "content": {"application/json": {"schema": ERROR}},
                }
            op["responses"] = responses
    return spec
