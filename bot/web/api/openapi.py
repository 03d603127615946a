"""The OpenAPI 3 contract of /api/v1, served at /api/v1/openapi.json.

Tests check the running API against this document with schemathesis, so it is the
contract, not a description written after the fact.
"""

from __future__ import annotations

from typing import Any

NUM = {"type": ["number", "null"]}
INT = {"type": "integer", "minimum": 0}
STR_NULL = {"type": ["string", "null"]}


def _obj(props: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {"type": "object", "properties": props,
            "required": list(props) if required is None else required}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


SCHEMAS: dict[str, Any] = {
    "Error": _obj({"error": {"type": "string"}}),
    "Area": _obj({"code": {"type": "string"}, "name": {"type": "string"},
                  "type": {"type": "string"},
                  "level": {"type": "string", "enum": ["province", "commune", "village"]},
                  "parent": STR_NULL}),
    "Category": _obj({"code": {"type": "string"}, "name_vi": {"type": "string"},
                      "name_en": {"type": "string"}, "ack_minutes": INT, "close_days": INT,
                      "emergency": {"type": "boolean"}}),
    "Period": _obj({"area": STR_NULL, "days": {"type": "integer", "minimum": 1},
                    "start": {"type": "string", "format": "date-time"},
                    "end": {"type": "string", "format": "date-time"}}),
    "Table": _obj({"columns": {"type": "array", "items": {"type": "string"}},
                   "rows": {"type": "array", "items": {"type": "array"}}}),
    "Broadcast": _obj({"id": {"type": "integer"}, "topic": {"type": "string"},
                       "template": {"type": "string"}, "status": {"type": "string"},
                       "urgent": {"type": "boolean"},
                       "created_at": {"type": "string", "format": "date-time"},
                       "published": {"type": "boolean"}, "recipients": INT, "delivered": INT,
                       "failed": INT, "unreachable": INT, "text_vi": STR_NULL,
                       "text_en": STR_NULL}),
}
SCHEMAS["Summary"] = {"allOf": [_ref("Period"), _obj({
    "received": INT, "acknowledged": INT, "closed": INT,
    "ack_minutes": _obj({"median": NUM, "p90": NUM}),
    "close_hours": _obj({"median": NUM, "p90": NUM}),
    "by_category": {"type": "array", "items": _obj({
        "code": {"type": "string"}, "received": INT, "acknowledged": INT, "closed": INT})},
    "outcomes": {"type": "object", "additionalProperties": INT},
    "ratings": {"type": "object", "additionalProperties": INT},
    "rating_average": NUM})]}
SCHEMAS["Statistics"] = {"allOf": [_ref("Period"), _obj({
    "tables": {"type": "object", "additionalProperties": _ref("Table")}})]}

DAYS = {"name": "days", "in": "query", "required": False,
        "description": "whole local days up to now (default 30)",
        "schema": {"type": "integer", "minimum": 1, "maximum": 366, "default": 30}}
AREA = {"name": "area", "in": "query", "required": False,
        "description": "an area code (province, commune or village): that area and below",
        "schema": {"type": "string", "maxLength": 16}}


def _errors(*codes: int) -> dict[str, Any]:
    text = {400: "bad parameter", 401: "missing or revoked API key",
            404: "unknown area", 429: "rate limit reached (see Retry-After)"}
    return {str(c): {"description": text[c], "content": {
        "application/json": {"schema": _ref("Error")}}} for c in codes}


def _get(summary: str, schema: dict[str, Any], params: list[dict[str, Any]],
         errors: tuple[int, ...]) -> dict[str, Any]:
    return {"get": {"summary": summary, "parameters": params, "responses": {
        "200": {"description": "OK", "content": {"application/json": {"schema": schema}}},
        **_errors(401, 429, *errors)}}}


def document(base_url: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document, with the server this instance answers on."""
    array = lambda name: {"type": "array", "items": _ref(name)}  # noqa: E731
    return {
        "openapi": "3.1.0",
        "info": {"title": "Bình Yên open API", "version": "1.0.0",
                 "description": "Read-only figures about tips, areas and notices. No personal "
                                "data. One key per client (`binhyen apikey create`)."},
        "servers": [{"url": f"{base_url.rstrip('/')}/api/v1"}],
        "security": [{"bearer": []}, {"apiKey": []}],
        "components": {"schemas": SCHEMAS, "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer"},
            "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}}},
        "paths": {
            "/areas": _get("Provinces, or the children of `parent`", array("Area"),
                           [{"name": "parent", "in": "query", "required": False,
                             "schema": {"type": "string", "maxLength": 16}}], (404,)),
            "/categories": _get("Tip categories and their deadlines", array("Category"), [],
                                ()),
            "/cases/summary": _get("Tips received, handled and rated (counts only)",
                                   _ref("Summary"), [DAYS, AREA], (400, 404)),
            "/statistics": _get("The statistics page's tables", _ref("Statistics"),
                                [DAYS, AREA], (400, 404)),
            "/broadcasts": _get("Notices and their reach; text only when published",
                                array("Broadcast"), [DAYS], (400,)),
        },
    }
