"""The OpenAPI part for storage quotas (issue 16; mailstore.quotas)."""

from __future__ import annotations

from typing import Any

from mailstore.openapi.common import ADDRESS, INVALID, NOT_FOUND, json_body, json_content, ref

_BYTES = {"type": ["integer", "null"], "minimum": 0}

QUOTA_SCHEMAS: dict[str, Any] = {
    "Quota": {
        "type": "object",
        "required": ["used", "limit", "room", "full"],
        "properties": {
            "used": {
                "type": "integer",
                "description": "bytes held, each stored message counted once",
            },
            "limit": {**_BYTES, "description": "null: no limit"},
            "room": {**_BYTES, "description": "bytes it may still take; null: no limit"},
            "full": {"type": "boolean"},
        },
    },
    "QuotaSetting": {
        "type": "object",
        "required": ["quota"],
        "properties": {
            "quota": {
                **_BYTES,
                "description": "the account's own limit in bytes (0: none); null: "
                "LOCALPOST_DEFAULT_QUOTA",
            }
        },
    },
}

QUOTA_PATHS: dict[str, Any] = {
    "/v1/accounts/{address}/quota": {
        "parameters": [ADDRESS],
        "get": {
            "summary": "The account's storage usage and limit",
            "responses": {"200": json_content(ref("Quota"), "Usage"), "404": NOT_FOUND},
        },
        "put": {
            "summary": "Set the account's own limit in bytes (audited as api:service)",
            "requestBody": json_body(ref("QuotaSetting")),
            "responses": {
                "200": json_content(ref("Quota"), "Usage under the new limit"),
                "404": NOT_FOUND,
                "422": INVALID,
            },
        },
    },
}
