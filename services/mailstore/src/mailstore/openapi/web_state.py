"""The OpenAPI paths and schemas of the web service's state: sessions, API tokens,
throttles, and the bulk actions of its listings."""

from __future__ import annotations

from typing import Any

from mailstore.openapi.common import (
    ADDRESS,
    INVALID,
    NO_CONTENT,
    NOT_FOUND,
    OVERLOADED,
    THROTTLED,
    error,
    json_body,
    json_content,
    ref,
)

_SECRET = {
    "name": "secret",
    "in": "path",
    "required": True,
    "description": "the session secret POST /v1/sessions returned",
    "schema": {"type": "string"},
}
_NO_SESSION = error("Unknown or expired session")
_NO_TOKEN = error("Unknown or revoked token")
_DATE_TIME = {"type": "string", "format": "date-time"}

WEB_SCHEMAS: dict[str, Any] = {
    "NewSession": {
        "type": "object",
        "required": ["session", "expires_at"],
        "properties": {
            "session": {"type": "string", "description": "shown once; the store keeps its hash"},
            "expires_at": _DATE_TIME,
        },
    },
    "TokenOwner": {
        "type": "object",
        "required": ["address", "name", "is_admin"],
        "properties": {
            "address": {"type": "string"},
            "name": {"type": "string"},
            "is_admin": {"type": "boolean", "description": "as of this request"},
        },
    },
    "SessionOwner": {
        "type": "object",
        "required": ["address", "name", "expires_at", "id", "time_zone"],
        "properties": {
            "address": {"type": "string"},
            "name": {"type": "string", "description": "the account's name"},
            "expires_at": {**_DATE_TIME, "description": "already pushed forward by this use"},
            "id": {"type": "integer", "description": "the session's id in the sessions list"},
            "time_zone": {"type": "string", "description": "the account's; '' is the browser's"},
            "conversations": {
                "type": "boolean",
                "description": "the account's setting: list folders by conversation",
            },
            "is_admin": {
                "type": "boolean",
                "description": "the account is an administrator, as of this request",
            },
        },
    },
    "Session": {
        "type": "object",
        "required": ["id", "device", "created_at", "last_used_at"],
        "properties": {
            "id": {"type": "integer", "description": "names the session; not its secret"},
            "device": {"type": "string", "description": "the web's summary of the User-Agent"},
            "created_at": _DATE_TIME,
            "last_used_at": _DATE_TIME,
        },
    },
    "PasswordChange": {
        "type": "object",
        "required": ["current_password", "new_password", "client"],
        "properties": {
            "current_password": {"type": "string"},
            "new_password": {"type": "string", "minLength": 8, "maxLength": 1024},
            "client": {
                "type": "string",
                "minLength": 1,
                "maxLength": 64,
                "description": "the client's IP address, for the login throttle",
            },
            "keep_session": {
                "type": ["integer", "null"],
                "description": "the id of the one session that stays (the caller's)",
            },
            "revoke_tokens": {"type": "boolean", "default": False},
        },
    },
    "Profile": {
        "type": "object",
        "required": ["name", "signature", "time_zone", "conversations"],
        "properties": {
            "name": {"type": "string", "maxLength": 200},
            "signature": {
                "type": "string",
                "maxLength": 2000,
                "description": "plain text; line breaks and tabs, no other controls",
            },
            "time_zone": {
                "type": "string",
                "description": "an IANA name the server's zoneinfo knows; '' is the browser's",
            },
            "conversations": {
                "type": "boolean",
                "description": "the web lists folders one row per conversation (default true)",
            },
        },
    },
    "Token": {
        "type": "object",
        "required": ["id", "name", "created_at", "last_used_at"],
        "properties": {
            "id": {"type": "integer"},
            "name": {"type": "string"},
            "created_at": _DATE_TIME,
            "last_used_at": {"type": ["string", "null"], "format": "date-time"},
        },
    },
    "NewToken": {
        "type": "object",
        "required": ["id", "token", "name", "created_at"],
        "properties": {
            "id": {"type": "integer"},
            "token": {"type": "string", "pattern": "^lp_", "description": "shown once"},
            "name": {"type": "string"},
            "created_at": _DATE_TIME,
        },
    },
    "Throttle": {
        "type": "object",
        "required": ["key", "limit", "window"],
        "properties": {
            "key": {"type": "string", "minLength": 1, "maxLength": 200},
            "limit": {"type": "integer", "minimum": 1, "maximum": 100000},
            "window": {"type": "integer", "minimum": 1, "maximum": 86400, "description": "s"},
            "client": {
                "type": "string",
                "minLength": 1,
                "maxLength": 64,
                "description": (
                    "the client's IP address: the event counts under key + ':' + the client "
                    "(an IPv4 address or IPv6 /64), and a client in LOCALPOST_TRUSTED_NETWORKS "
                    "is allowed without counting unless LOCALPOST_THROTTLE_TRUSTED=1"
                ),
            },
        },
    },
    "ThrottleResult": {
        "type": "object",
        "required": ["allowed", "count", "retry_after"],
        "properties": {
            "allowed": {"type": "boolean", "description": "count <= limit"},
            "count": {"type": "integer", "description": "events in the window, this one too"},
            "retry_after": {
                "type": "integer",
                "description": "seconds until a call would be allowed again; 0 when allowed",
            },
        },
    },
    "BulkAction": {
        "type": "object",
        "required": ["ids", "action"],
        "properties": {
            "ids": {"type": "array", "maxItems": 1000, "items": {"type": "integer"}},
            "action": {
                "enum": ["read", "unread", "trash", "restore", "delete", "move", "star", "unstar"]
            },
            "folder": {"type": "string", "description": "the target of move (a folder id)"},
            "conversations": {
                "type": "boolean",
                "default": False,
                "description": "the ids are conversation rows: act on every message of their"
                " conversations in their folders",
            },
        },
    },
}

WEB_PATHS: dict[str, Any] = {
    "/v1/sessions": {
        "post": {
            "summary": "Start a session for an existing account",
            "requestBody": json_body(
                {
                    "type": "object",
                    "required": ["address"],
                    "properties": {
                        "address": {"type": "string"},
                        "device": {
                            "type": "string",
                            "maxLength": 100,
                            "description": "a summary of the User-Agent, for the sessions list",
                        },
                    },
                }
            ),
            "responses": {
                "201": json_content(ref("NewSession"), "Started"),
                "404": NOT_FOUND,
                "422": INVALID,
            },
        }
    },
    "/v1/sessions/{secret}": {
        "parameters": [_SECRET],
        "get": {
            "summary": "The session's account; marks it used and slides its expiry",
            "responses": {
                "200": json_content(ref("SessionOwner"), "A live session"),
                "404": _NO_SESSION,
            },
        },
        "delete": {
            "summary": "End the session (204 for an unknown one too)",
            "responses": {**NO_CONTENT},
        },
    },
    "/v1/accounts/{address}/sessions": {
        "parameters": [ADDRESS],
        "delete": {
            "summary": "End every session of the account (log out everywhere), or every other",
            "parameters": [
                {
                    "name": "except",
                    "in": "query",
                    "description": "the id of a session that stays",
                    "schema": {"type": "integer"},
                }
            ],
            "responses": {**NO_CONTENT, "404": NOT_FOUND, "422": INVALID},
        },
        "get": {
            "summary": "The account's live sessions, most recently used first (no secrets)",
            "responses": {
                "200": json_content(
                    {"type": "object", "properties": {"sessions": {"items": ref("Session")}}},
                    "The sessions",
                ),
                "404": NOT_FOUND,
            },
        },
    },
    "/v1/accounts/{address}/sessions/{id}": {
        "delete": {
            "summary": "End one session of the account",
            "parameters": [
                ADDRESS,
                {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}},
            ],
            "responses": {**NO_CONTENT, "404": error("No such account, or no such session in it")},
        }
    },
    "/v1/accounts/{address}/delete": {
        "post": {
            "summary": "Delete the account, its folders, mail, sessions and tokens",
            "description": (
                "The password is checked under the login throttle, as for a password "
                "change. Messages other accounts also hold stay with them."
            ),
            "parameters": [ADDRESS],
            "requestBody": json_body(
                {
                    "type": "object",
                    "required": ["password", "client"],
                    "properties": {
                        "password": {"type": "string"},
                        "client": {"type": "string", "minLength": 1, "maxLength": 64},
                    },
                }
            ),
            "responses": {
                **NO_CONTENT,
                "401": error("The password is wrong"),
                "404": NOT_FOUND,
                "422": INVALID,
                "429": THROTTLED,
                "503": OVERLOADED,
            },
        }
    },
    "/v1/accounts/{address}/profile": {
        "parameters": [ADDRESS],
        "get": {
            "summary": "The account's name, signature, time zone and conversations setting",
            "responses": {"200": json_content(ref("Profile"), "The settings"), "404": NOT_FOUND},
        },
        "patch": {
            "summary": "Change any of name, signature, time_zone, conversations; the others stay",
            "requestBody": json_body(
                {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"},
                        "signature": {"type": "string"},
                        "time_zone": {"type": "string"},
                        "conversations": {"type": "boolean"},
                    },
                }
            ),
            "responses": {
                "200": json_content(ref("Profile"), "Changed"),
                "404": NOT_FOUND,
                "422": INVALID,
            },
        },
    },
    "/v1/accounts/{address}/password": {
        "post": {
            "summary": "Change the password; every session but keep_session ends",
            "description": (
                "The current password is checked under the login throttle (as a web login "
                "from a known device: the per-client limits apply, not the account's "
                "ceiling). API tokens keep working unless revoke_tokens is true."
            ),
            "parameters": [ADDRESS],
            "requestBody": json_body(ref("PasswordChange")),
            "responses": {
                **NO_CONTENT,
                "401": error("The current password is wrong"),
                "404": NOT_FOUND,
                "422": INVALID,
                "429": THROTTLED,
                "503": OVERLOADED,
            },
        }
    },
    "/v1/accounts/{address}/tokens": {
        "parameters": [ADDRESS],
        "post": {
            "summary": "Create a personal API token; the token is shown once",
            "requestBody": json_body(
                {
                    "type": "object",
                    "required": ["name"],
                    "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 100}},
                }
            ),
            "responses": {
                "201": json_content(ref("NewToken"), "Created"),
                "404": NOT_FOUND,
                "422": INVALID,
            },
        },
        "get": {
            "summary": "The account's tokens, oldest first (never the tokens themselves)",
            "responses": {
                "200": json_content(
                    {"type": "object", "properties": {"tokens": {"items": ref("Token")}}},
                    "The tokens",
                ),
                "404": NOT_FOUND,
            },
        },
    },
    "/v1/accounts/{address}/tokens/{id}": {
        "delete": {
            "summary": "Revoke a token",
            "parameters": [
                ADDRESS,
                {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}},
            ],
            "responses": {**NO_CONTENT, "404": error("No such account, or no such token in it")},
        }
    },
    "/v1/tokens/{token}": {
        "get": {
            "summary": "The account a token belongs to; marks the token used",
            "parameters": [
                {"name": "token", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "responses": {
                "200": json_content(ref("TokenOwner"), "A valid token"),
                "404": _NO_TOKEN,
            },
        }
    },
    "/v1/throttle": {
        "post": {
            "summary": "Count one event for key in a sliding window",
            "description": (
                "Only allowed events are stored, so a key holds at most `limit` of them and a "
                "caller that keeps trying while throttled is allowed again once its oldest "
                "event leaves the window. Use one (limit, window) per key. Logins do not use "
                "this: /v1/auth/verify has its own throttle."
            ),
            "requestBody": json_body(ref("Throttle")),
            "responses": {"200": json_content(ref("ThrottleResult"), "Counted"), "422": INVALID},
        }
    },
    "/v1/throttle/{key}": {
        "delete": {
            "summary": "Forget a key's events",
            "parameters": [
                {"name": "key", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "responses": {**NO_CONTENT, "422": INVALID},
        }
    },
    "/v1/accounts/{address}/messages/bulk": {
        "post": {
            "summary": "One action on several messages; ids outside the account are ignored",
            "parameters": [ADDRESS],
            "requestBody": json_body(ref("BulkAction")),
            "responses": {
                "200": json_content(
                    {
                        "type": "object",
                        "properties": {
                            "changed": {"type": "integer"},
                            "ids": {"type": "array", "items": {"type": "integer"}},
                        },
                    },
                    "How many messages the action changed, and their ids (ascending)",
                ),
                "404": NOT_FOUND,
                "422": INVALID,
            },
        }
    },
    "/v1/accounts/{address}/trash/empty": {
        "post": {
            "summary": "Delete forever everything in Trash",
            "parameters": [ADDRESS],
            "responses": {
                "200": json_content(
                    {"type": "object", "properties": {"deleted": {"type": "integer"}}},
                    "How many messages were deleted",
                ),
                "404": NOT_FOUND,
            },
        }
    },
}
