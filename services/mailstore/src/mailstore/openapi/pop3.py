"""The OpenAPI paths of the POP3 gateway's maildrop lock (views.pop3, RFC 1939 §8)."""

from __future__ import annotations

from typing import Any

from mailstore.openapi.common import ADDRESS, INVALID, NOT_FOUND, json_body, json_content

_LOCK = "/v1/accounts/{address}/pop3/lock"
_HOLDER = {
    "type": "string",
    "minLength": 1,
    "maxLength": 100,
    "description": "the POP3 session's random name, chosen by the gateway",
}

POP3_SCHEMAS: dict[str, Any] = {
    "Pop3Lock": {
        "type": "object",
        "required": ["expires_at"],
        "properties": {"expires_at": {"type": "string", "format": "date-time"}},
    },
    "Pop3LockInUse": {
        "type": "object",
        "required": ["error", "code"],
        "properties": {"error": {"type": "string"}, "code": {"enum": ["inuse"]}},
    },
}

POP3_PATHS: dict[str, Any] = {
    _LOCK: {
        "post": {
            "summary": (
                "Take or renew the account's POP3 maildrop lock, a lease of `seconds`;"
                " taken when free, expired, or already this holder's"
            ),
            "parameters": [ADDRESS],
            "requestBody": json_body(
                {
                    "type": "object",
                    "required": ["holder", "seconds"],
                    "properties": {
                        "holder": _HOLDER,
                        "seconds": {"type": "integer", "minimum": 1, "maximum": 3600},
                    },
                }
            ),
            "responses": {
                "200": json_content(
                    {"$ref": "#/components/schemas/Pop3Lock"}, "Held until expires_at"
                ),
                "404": NOT_FOUND,
                "409": json_content(
                    {"$ref": "#/components/schemas/Pop3LockInUse"},
                    "Another session holds it (RFC 2449 IN-USE)",
                ),
                "422": INVALID,
            },
        },
        "delete": {
            "summary": "Release the lock if this holder has it (else nothing changes)",
            "parameters": [
                ADDRESS,
                {"name": "holder", "in": "query", "required": True, "schema": _HOLDER},
            ],
            "responses": {"204": {"description": "Released"}, "404": NOT_FOUND, "422": INVALID},
        },
    },
}
