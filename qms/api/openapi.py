"""The OpenAPI 3 document. Each feature's api.py declares its paths in OPENAPI_PATHS;
a test checks that every /api/v1 route is described here."""

from __future__ import annotations

import copy
import importlib
import importlib.util
from typing import Any

# -- schema building blocks ---------------------------------------------------------------

STRING: dict[str, Any] = {"type": "string"}
INTEGER: dict[str, Any] = {"type": "integer"}
NUMBER: dict[str, Any] = {"type": "number"}
BOOLEAN: dict[str, Any] = {"type": "boolean"}
DATE: dict[str, Any] = {"type": "string", "format": "date"}
# Timestamps are ISO 8601 in UTC without an offset (Python's isoformat of a naive UTC time).
TIMESTAMP: dict[str, Any] = {"type": "string", "description": "ISO 8601, UTC"}
STRINGS: dict[str, Any] = {"type": "array", "items": STRING}


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "nullable": True}


def array(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": items}


def ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(**properties: dict[str, Any]) -> dict[str, Any]:
    """An object that always carries every named property (values may be nullable)."""
    return {"type": "object", "required": sorted(properties), "properties": properties}


def page_of(item: dict[str, Any]) -> dict[str, Any]:
    """A list answer: {"items": [...], "meta": {"page", "per_page", "total", "pages"}}."""
    return obj(items=array(item), meta=ref("PageMeta"))


ERROR_SCHEMA = obj(
    error={
        "type": "object",
        "required": ["code", "message"],
        "properties": {
            "code": STRING,
            "message": STRING,
            "details": {"type": "object"},
        },
    }
)

PAGE_META_SCHEMA = obj(page=INTEGER, per_page=INTEGER, total=INTEGER, pages=INTEGER)

PAGE_PARAMS = [
    {
        "name": "page",
        "in": "query",
        "description": "1 or more; a number past the last page answers an empty page",
        "schema": {"type": "integer", "minimum": 1},
    },
    {
        "name": "per_page",
        "in": "query",
        "description": "1 to 200 (default 50); larger numbers are taken as 200",
        "schema": {"type": "integer", "minimum": 1, "maximum": 200},
    },
]


def error_responses(*statuses: int) -> dict[str, Any]:
    return {
        str(s): {
            "description": "error",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
        for s in statuses
    }


def op(
    summary: str,
    *errors: int,
    params: list[dict[str, Any]] | None = None,
    body: dict[str, Any] | None = None,
    ok: str = "200",
    content_type: str = "application/json",
) -> dict[str, Any]:
    if body:
        errors = (400, *errors)  # a body that is not a JSON object
    operation: dict[str, Any] = {
        "summary": summary,
        "responses": {
            ok: {"description": "success", "content": {content_type: {}}},
            **error_responses(*sorted({401, *errors})),
        },
    }
    if params:
        operation["parameters"] = params
    if body:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": body}},
        }
    return operation


API_MODULES = ["qms.auth.api"]

CORE_PATHS: dict[str, Any] = {
    "/api/v1/openapi.json": {
        "get": {
            "summary": "This document",
            "security": [],
            "responses": {
                "200": {
                    "description": "OpenAPI 3",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                }
            },
        }
    },
}


def _api_modules() -> list[Any]:
    from qms import FEATURES

    modules = []
    for name in API_MODULES + [f"qms.{name}.api" for name in FEATURES]:
        if importlib.util.find_spec(name) is not None:
            modules.append(importlib.import_module(name))
    return modules


def _add_response_schemas(paths: dict[str, Any], schemas: dict[str, Any]) -> None:
    """Put each operation's success schema (a feature's OPENAPI_RESPONSES) on its 2xx
    response, whose content type op() declared."""
    for path, by_method in schemas.items():
        for method, schema in by_method.items():
            responses = paths[path][method]["responses"]
            for status, response in responses.items():
                if status.startswith("2"):
                    for media in response.setdefault("content", {}).values():
                        media["schema"] = schema


def build_document() -> dict[str, Any]:
    paths: dict[str, Any] = copy.deepcopy(CORE_PATHS)
    components: dict[str, Any] = {"Error": ERROR_SCHEMA, "PageMeta": PAGE_META_SCHEMA}
    responses: dict[str, dict[str, Any]] = {}
    for module in _api_modules():
        for path, ops in copy.deepcopy(getattr(module, "OPENAPI_PATHS", {})).items():
            paths.setdefault(path, {}).update(ops)
        components.update(getattr(module, "OPENAPI_SCHEMAS", {}))
        for path, by_method in getattr(module, "OPENAPI_RESPONSES", {}).items():
            responses.setdefault(path, {}).update(by_method)
    _add_response_schemas(paths, responses)
    return {
        "openapi": "3.0.3",
        "info": {"title": "QMS API", "version": "1"},
        "servers": [{"url": "/"}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": dict(sorted(components.items())),
        },
        "security": [{"bearer": []}],
        "paths": dict(sorted(paths.items())),
    }
