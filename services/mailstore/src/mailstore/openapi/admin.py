"""The OpenAPI part for the web's /admin pages (views/admin.py) and the sign-up's look-ups
of an invitation and of the registration mode an administrator chose."""

from __future__ import annotations

from typing import Any

from mailstore.openapi.common import (
    ADDRESS,
    INVALID,
    NO_CONTENT,
    NOT_FOUND,
    OVERLOADED,
    error,
    json_body,
    json_content,
    ref,
)

_LAST_ADMIN = error("The only enabled administrator (code lastadmin): refused")
_ACTOR = {"type": "string", "minLength": 1, "maxLength": 320, "description": "who acts"}
_BY_ACTOR = json_body(ref("AdminAction"))
_LIMIT = {
    "name": "limit",
    "in": "query",
    "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
}
_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
_ANY_OBJECT: dict[str, Any] = {"type": "object"}
_LISTING = json_content(_ANY_OBJECT, "One page, and where the next starts (null: no more)")


def _action(summary: str, ok: dict[str, Any], *extra: tuple[str, Any]) -> dict[str, Any]:
    responses = {**ok, "404": NOT_FOUND, "422": INVALID, **dict(extra)}
    return {"summary": summary, "requestBody": _BY_ACTOR, "responses": responses}


def _action_with(summary: str, ok: dict[str, Any], name: str, schema: Any) -> dict[str, Any]:
    """An action whose body names one thing besides the actor."""
    body = {"type": "object", "required": ["actor", name],
            "properties": {"actor": _ACTOR, name: schema}}  # fmt: skip
    responses = {**ok, "404": NOT_FOUND, "422": INVALID}
    return {"summary": summary, "requestBody": json_body(body), "responses": responses}


_ADDRESSES = {"type": "array", "items": {"type": "string"}}
_DOMAIN = {"name": "domain", "in": "path", "required": True, "schema": {"type": "string"}}

ADMIN_SCHEMAS: dict[str, Any] = {
    "AdminAction": {"type": "object", "required": ["actor"], "properties": {"actor": _ACTOR}},
    "Registration": {
        "type": "object",
        "required": ["mode", "changed_at", "changed_by"],
        "properties": {
            "mode": {
                "enum": ["open", "invite", "closed", None],
                "description": "null: none chosen, LOCALPOST_REGISTRATION is in force",
            },
            "changed_at": {"type": ["string", "null"], "format": "date-time"},
            "changed_by": {"type": ["string", "null"]},
        },
    },
}

_OK = {"200": json_content(_ANY_OBJECT, "Done")}

ADMIN_PATHS: dict[str, Any] = {
    "/v1/registration": {
        "get": {
            "summary": "The registration mode an administrator chose, if any",
            "responses": {"200": json_content(ref("Registration"), "The choice")},
        }
    },
    "/v1/invitations/{token}": {
        "parameters": [
            {"name": "token", "in": "path", "required": True, "schema": {"type": "string"}}
        ],
        "get": {
            "summary": "A live sign-up invitation (its address, if bound to one)",
            "responses": {
                "200": json_content(_ANY_OBJECT, "Live"),
                "404": error("Unknown, used, revoked or expired (one answer)"),
            },
        },
    },
    "/v1/admin": {
        "get": {
            "summary": "Counts of accounts, administrators, disabled; the registration choice",
            "responses": {"200": json_content(_ANY_OBJECT, "The overview")},
        }
    },
    "/v1/admin/registration": {
        "put": {
            "summary": "Choose the registration mode (overrides LOCALPOST_REGISTRATION)",
            "requestBody": json_body(
                {
                    "type": "object",
                    "required": ["actor", "mode"],
                    "properties": {"actor": _ACTOR, "mode": {"enum": ["open", "invite", "closed"]}},
                }
            ),
            "responses": {"200": json_content(ref("Registration"), "Chosen"), "422": INVALID},
        }
    },
    "/v1/admin/accounts": {
        "get": {
            "summary": "Accounts whose address holds q, by address, paged by after",
            "parameters": [
                {"name": "q", "in": "query", "schema": {"type": "string"}},
                {"name": "after", "in": "query", "schema": {"type": "string"}},
                _LIMIT,
            ],
            "responses": {"200": _LISTING, "422": INVALID},
        },
        "post": {
            "summary": "Create an account (the registration's rules)",
            "requestBody": json_body(_ANY_OBJECT),
            "responses": {
                "201": json_content(ref("Account"), "Created"),
                "409": error("The address is taken"),
                "422": INVALID,
                "503": OVERLOADED,
            },
        },
    },
    "/v1/admin/accounts/{address}/disable": {
        "parameters": [ADDRESS],
        "post": _action("Disable: every session ends now", _OK, ("409", _LAST_ADMIN)),
    },
    "/v1/admin/accounts/{address}/enable": {
        "parameters": [ADDRESS],
        "post": _action("Enable again", _OK),
    },
    "/v1/admin/accounts/{address}/admin": {
        "parameters": [ADDRESS],
        "post": {
            "summary": "Grant or revoke the admin role",
            "requestBody": json_body(
                {
                    "type": "object",
                    "required": ["actor", "admin"],
                    "properties": {"actor": _ACTOR, "admin": {"type": "boolean"}},
                }
            ),
            "responses": {**_OK, "404": NOT_FOUND, "409": _LAST_ADMIN, "422": INVALID},
        },
    },
    "/v1/admin/accounts/{address}/delete": {
        "parameters": [ADDRESS],
        "post": _action("Delete with all its mail", NO_CONTENT, ("409", _LAST_ADMIN)),
    },
    "/v1/admin/accounts/{address}/reset-link": {
        "parameters": [ADDRESS],
        "post": _action("A one-time password-reset link, shown once", _OK),
    },
    "/v1/admin/accounts/{address}/quota": {
        "parameters": [ADDRESS],
        "post": _action_with(
            "Set the storage quota: a size (500MiB; 0: none) or default",
            _OK,
            "quota",
            {"type": "string"},
        ),
    },
    "/v1/admin/aliases": {
        "get": {
            "summary": "Every alias and its accounts",
            "responses": {"200": json_content(_ANY_OBJECT, "The aliases")},
        },
        "post": {
            "summary": "Make address deliver to the target accounts too",
            "requestBody": json_body(_ANY_OBJECT),
            "responses": {**_OK, "422": INVALID},
        },
    },
    "/v1/admin/aliases/{address}/delete": {
        "parameters": [ADDRESS],
        "post": _action("Delete the alias", NO_CONTENT),
    },
    "/v1/admin/lists": {
        "get": {
            "summary": "Every list with its policy and members",
            "responses": {"200": json_content(_ANY_OBJECT, "The lists")},
        },
        "post": {
            "summary": "A new list with no members: address and policy",
            "requestBody": json_body(_ANY_OBJECT),
            "responses": {"201": json_content(_ANY_OBJECT, "Created"), "422": INVALID},
        },
    },
    "/v1/admin/lists/{address}": {
        "parameters": [ADDRESS],
        "get": {
            "summary": "One list: policy and members",
            "responses": {"200": json_content(_ANY_OBJECT, "The list"), "404": NOT_FOUND},
        },
    },
    "/v1/admin/lists/{address}/delete": {
        "parameters": [ADDRESS],
        "post": _action("Delete the list", NO_CONTENT),
    },
    "/v1/admin/lists/{address}/members": {
        "parameters": [ADDRESS],
        "post": _action_with("Add members", _OK, "members", _ADDRESSES),
    },
    "/v1/admin/lists/{address}/members/delete": {
        "parameters": [ADDRESS],
        "post": _action_with("Remove members", _OK, "members", _ADDRESSES),
    },
    "/v1/admin/lists/{address}/policy": {
        "parameters": [ADDRESS],
        "post": _action_with(
            "Who may post", _OK, "policy", {"enum": ["members", "local", "anyone"]}
        ),
    },
    "/v1/admin/catchalls": {
        "get": {
            "summary": "Every local domain and its catch-all target (null: off)",
            "responses": {"200": json_content(_ANY_OBJECT, "The domains")},
        },
    },
    "/v1/admin/catchalls/{domain}": {
        "parameters": [_DOMAIN],
        "post": _action_with("Turn the catch-all on, to target", _OK, "target", {"type": "string"}),
    },
    "/v1/admin/catchalls/{domain}/delete": {
        "parameters": [_DOMAIN],
        "post": _action("Turn the catch-all off", NO_CONTENT),
    },
    "/v1/admin/invitations": {
        "get": {
            "summary": "Invitations, newest first",
            "parameters": [_LIMIT],
            "responses": {"200": _LISTING, "422": INVALID},
        },
        "post": {
            "summary": "A one-time sign-up link (shown once), optionally for one address",
            "requestBody": json_body(_ANY_OBJECT),
            "responses": {"201": json_content(_ANY_OBJECT, "Created"), "422": INVALID},
        },
    },
    "/v1/admin/invitations/{id}/revoke": {
        "parameters": [
            {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
        ],
        "post": _action("Revoke a live invitation", NO_CONTENT),
    },
    "/v1/admin/audit": {
        "get": {
            "summary": "The audit log, newest first, paged by before (an id)",
            "parameters": [{"name": "before", "in": "query", "schema": {"type": "string"}}, _LIMIT],
            "responses": {"200": _LISTING, "422": INVALID},
        }
    },
    "/v1/admin/unclaimed": {
        "get": {
            "summary": "Mail that reached nobody (no account has an entry), newest first",
            "parameters": [{"name": "before", "in": "query", "schema": {"type": "string"}}, _LIMIT],
            "responses": {"200": _LISTING, "422": INVALID},
        }
    },
    "/v1/admin/unclaimed/{id}/raw": {
        "parameters": [_ID],
        "get": {
            "summary": "Such a message as received",
            "responses": {
                "200": {"description": "RFC 5322", "content": {"message/rfc822": {}}},
                "404": NOT_FOUND,
            },
        },
    },
    "/v1/admin/unclaimed/{id}/delete": {
        "parameters": [_ID],
        "post": _action("Delete such a message", NO_CONTENT),
    },
    "/v1/admin/unclaimed/{id}/deliver": {
        "parameters": [_ID],
        "post": _action_with(
            "Put such a message into an account's Inbox; it leaves the unclaimed",
            NO_CONTENT,
            "address",
            {"type": "string"},
        ),
    },
}
