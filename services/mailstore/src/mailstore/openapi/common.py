"""Pieces shared by the OpenAPI document's parts: helpers, parameters, common schemas."""

from __future__ import annotations

from typing import Any

JSON = "application/json"


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def json_content(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def json_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {JSON: {"schema": schema}}}


def error(description: str) -> dict[str, Any]:
    return json_content(ref("Error"), description)


NOT_FOUND = error("No such account, or no such message in this account")
INVALID = json_content(ref("ValidationError"), "Fields failed validation")
# The bcrypt queue is full (mailstore.limiter); the Retry-After header says when to retry.
OVERLOADED = {
    **error("Too many password checks waiting; retry after Retry-After seconds"),
    "headers": {"Retry-After": {"schema": {"type": "integer", "minimum": 1}}},
}
# Too many failed logins (mailstore.logins); no password was checked.
THROTTLED = {
    **json_content(
        {
            "type": "object",
            "required": ["error", "retry_after"],
            "properties": {"error": {"type": "string"}, "retry_after": {"type": "integer"}},
        },
        "Too many failed logins; retry after Retry-After seconds",
    ),
    "headers": {"Retry-After": {"schema": {"type": "integer", "minimum": 1}}},
}
NO_CONTENT = {"204": {"description": "Done"}}
ADDRESS = {"name": "address", "in": "path", "required": True, "schema": {"type": "string"}}

COMMON_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {"type": "string"}},
    },
    "ValidationError": {
        "type": "object",
        "required": ["error", "fields"],
        "properties": {
            "error": {"type": "string"},
            "fields": {"type": "object", "additionalProperties": {"type": "string"}},
        },
    },
    "Account": {
        "type": "object",
        "required": ["address", "name"],
        "properties": {"address": {"type": "string"}, "name": {"type": "string"}},
    },
    "Status": {
        "type": "object",
        "required": ["status"],
        "properties": {"status": {"type": "string"}, "reason": {"type": "string"}},
    },
}
