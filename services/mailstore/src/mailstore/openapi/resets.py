"""The OpenAPI part for the web's password-reset page (links from `python -m mailstore
reset-password`, admin.py)."""

from __future__ import annotations

from typing import Any

from mailstore.openapi.common import INVALID, OVERLOADED, error, json_body, json_content, ref

_DEAD_LINK = error("Unknown, used or expired reset link (one answer for the three)")
_TOKEN = {
    "name": "token",
    "in": "path",
    "required": True,
    "description": "the secret of the link; logged as the route's pattern only",
    "schema": {"type": "string"},
}

RESET_SCHEMAS: dict[str, Any] = {
    "PasswordReset": {
        "type": "object",
        "required": ["address", "name", "expires_at"],
        "properties": {
            "address": {"type": "string"},
            "name": {"type": "string"},
            "expires_at": {"type": "string", "format": "date-time"},
        },
    },
    "NewPassword": {
        "type": "object",
        "required": ["new_password"],
        "properties": {
            "new_password": {"type": "string", "minLength": 8, "maxLength": 1024},
            "revoke_tokens": {
                "type": "boolean",
                "default": False,
                "description": "also revoke the account's personal API tokens",
            },
        },
    },
}

RESET_PATHS: dict[str, Any] = {
    "/v1/password-resets/{token}": {
        "parameters": [_TOKEN],
        "get": {
            "summary": "The account a live reset link is for",
            "responses": {
                "200": json_content(ref("PasswordReset"), "A live link"),
                "404": _DEAD_LINK,
            },
        },
        "post": {
            "summary": "Set the password through the link and use it up; every session ends",
            "requestBody": json_body(ref("NewPassword")),
            "responses": {
                "200": json_content(ref("Account"), "The password is set"),
                "404": _DEAD_LINK,
                "422": INVALID,
                "503": OVERLOADED,
            },
        },
    },
}
