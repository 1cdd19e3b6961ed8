"""The OpenAPI 3.1 document of /api/v1, served at /api/v1/openapi.json."""

from __future__ import annotations

from typing import Any


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_ERRORS = {
    "401": {"description": "no valid token or session"},
    "404": {"description": "no such message in this account"},
    "422": _json(_ref("FieldErrors"), "invalid fields"),
    "503": {
        "description": "mail is unavailable right now (the mail store is slow or down)",
        "headers": {
            "Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}
        },
    },
}
_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
_PAGE = [
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200}},
    {"name": "cursor", "in": "query", "schema": {"type": "string"}},
]
_PERSON = {
    "type": "object",
    "properties": {"name": {"type": ["string", "null"]}, "address": {"type": "string"}},
}
_SUMMARY = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "folder": {"type": "string", "description": "the folder's id (inbox, sent, f12...)"},
        "from": _PERSON,
        "to": {"type": "array", "items": _PERSON},
        "cc": {"type": "array", "items": _PERSON},
        "subject": {"type": ["string", "null"]},
        "preview": {"type": ["string", "null"]},
        "date": {"type": ["string", "null"], "format": "date-time"},
        "unread": {"type": "boolean"},
        "starred": {"type": "boolean", "description": "IMAP's \\Flagged"},
        "answered": {"type": "boolean", "description": "replied to (\\Answered)"},
        "forwarded": {"type": "boolean", "description": "forwarded ($Forwarded)"},
        "has_attachments": {"type": "boolean"},
    },
}
_FOLDER_ID = {"type": "string", "pattern": "^[a-z][a-z0-9]{0,19}$"}
_FOLDER = {"name": "folder", "in": "path", "required": True, "schema": _FOLDER_ID}
_FOLDER_ERRORS = {**_ERRORS, "404": {"description": "no such folder in this account"}}


def _body(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    schema = {"type": "object", "properties": properties, "required": required}
    return {"required": True, "content": {"application/json": {"schema": schema}}}


_NAMED = {"id": _FOLDER_ID, "name": {"type": "string"}}
_FOLDER_PATHS: dict[str, Any] = {
    "/api/v1/folders": {
        "get": {
            "summary": "Every folder: Inbox, Sent, Drafts, Trash, Junk, Archive, then yours",
            "responses": {
                "200": _json(
                    {"type": "object", "properties": {"folders": {"type": "array"}}},
                    "id, name (full, / between levels), special_use, unread, total",
                ),
                "401": _ERRORS["401"],
            },
        },
        "post": {
            "summary": "Create a folder: one level's name, inside parent (a folder id) or top",
            "requestBody": _body({"name": {"type": "string"}, "parent": _FOLDER_ID}, ["name"]),
            "responses": {
                "201": _json({"type": "object", "properties": _NAMED}, "the new folder"),
                **_ERRORS,
            },
        },
    },
    "/api/v1/folders/{folder}": {
        "patch": {
            "summary": "Rename a folder of yours (its last level); standard ones are 422",
            "parameters": [_FOLDER],
            "requestBody": _body({"name": {"type": "string"}}, ["name"]),
            "responses": {
                "200": _json({"type": "object", "properties": _NAMED}, "renamed"),
                **_FOLDER_ERRORS,
            },
        },
        "delete": {
            "summary": "Delete a folder of yours; one with messages or subfolders is 422",
            "parameters": [_FOLDER],
            "responses": {"204": {"description": "deleted"}, **_FOLDER_ERRORS},
        },
    },
    "/api/v1/messages/{id}/move": {
        "post": {
            "summary": "Move to a folder of yours (to trash: Delete, restorable)",
            "parameters": [_ID],
            "requestBody": _body({"folder": _FOLDER_ID}, ["folder"]),
            "responses": {"200": _json(_ref("Summary"), "moved"), **_ERRORS},
        }
    },
}
_LISTING = {
    "type": "object",
    "properties": {
        "messages": {"type": "array", "items": _ref("Summary")},
        "next_cursor": {"type": ["string", "null"]},
    },
}

OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "Localpost webmail API", "version": "1"},
    "components": {
        "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer"},
            "basic": {"type": "http", "scheme": "basic"},
            "session": {"type": "apiKey", "in": "cookie", "name": "lp_session"},
        },
        "schemas": {
            "Summary": _SUMMARY,
            "Listing": _LISTING,
            "FieldErrors": {
                "type": "object",
                "properties": {
                    "error": {"type": "string"},
                    "fields": {"type": "object", "additionalProperties": {"type": "string"}},
                },
            },
        },
    },
    "security": [{"bearer": []}, {"session": []}],
    "paths": {
        "/api/v1/accounts": {
            "post": {
                "summary": "Register an account",
                "security": [],
                "requestBody": _json(
                    {
                        "type": "object",
                        "required": ["name", "address", "password"],
                        "properties": {
                            "name": {"type": "string"},
                            "address": {
                                "type": "string",
                                "description": "full address in a local domain, or a local "
                                "part for the first local domain",
                            },
                            "password": {"type": "string", "minLength": 10},
                        },
                    },
                    "the account",
                ),
                "responses": {
                    "201": {"description": "registered"},
                    "403": {"description": "sign-up is not open (LOCALPOST_REGISTRATION)"},
                    "409": {"description": "address taken"},
                    "422": _ERRORS["422"],
                    "429": {"description": "too many registrations from this client"},
                },
            }
        },
        "/api/v1/tokens": {
            "post": {
                "summary": "Create a personal API token (HTTP Basic address:password)",
                "security": [{"basic": []}],
                "responses": {
                    "201": _json(
                        {
                            "type": "object",
                            "properties": {
                                "token": {"type": "string"},
                                "id": {"type": "integer", "description": "to revoke it"},
                                "name": {"type": "string"},
                            },
                        },
                        "the token, shown once",
                    ),
                    "401": {"description": "wrong address or password"},
                    "429": {"description": "too many attempts"},
                },
            }
        },
        "/api/v1/tokens/{id}": {
            "delete": {
                "summary": "Revoke one of the caller's API tokens",
                "parameters": [_ID],
                "responses": {
                    "204": {"description": "revoked"},
                    "401": _ERRORS["401"],
                    "404": {"description": "no such token in this account"},
                },
            }
        },
        "/api/v1/messages": {
            "get": {
                "summary": "One page of a folder, newest first",
                "parameters": [
                    {
                        "name": "folder",
                        "in": "query",
                        "description": "a folder id, or starred (flagged mail outside Trash)",
                        "schema": _FOLDER_ID,
                    },
                    *_PAGE,
                ],
                "responses": {"200": _json(_ref("Listing"), "a page"), **_ERRORS},
            },
            "post": {
                "summary": "Send a message as the caller",
                "description": "Recipients must be in the local domains (no outbound mail"
                " yet): any other is a 422 naming its field.",
                "requestBody": _json(
                    {
                        "type": "object",
                        "required": ["to"],
                        "properties": {
                            "to": {"type": "array", "items": {"type": "string"}},
                            "cc": {"type": "array", "items": {"type": "string"}},
                            "bcc": {
                                "type": "array",
                                "items": {"type": "string"},
                                "description": "envelope only: in no copy's headers",
                            },
                            "subject": {"type": "string"},
                            "text": {"type": "string"},
                        },
                    },
                    "the message",
                ),
                "responses": {
                    "202": _json(
                        {
                            "type": "object",
                            "properties": {
                                "id": {"type": ["string", "null"], "description": "queue id"},
                                "message_id": {"type": "string"},
                                "refused": {"type": "array", "items": {"type": "string"}},
                            },
                        },
                        "accepted for delivery",
                    ),
                    "401": _ERRORS["401"],
                    "422": _ERRORS["422"],
                    "503": {"description": "the submission service is unavailable"},
                },
            },
        },
        "/api/v1/drafts": {
            "post": {
                "summary": "Save a draft into Drafts (a message mail programs see there)",
                "description": "Each save replaces the draft named by replaces in one"
                " transaction; an id that is no draft of the caller's saves a new one."
                " Recipients are kept as given, unchecked. List drafts with"
                " GET /api/v1/messages?folder=drafts.",
                "requestBody": _json(
                    {
                        "type": "object",
                        "properties": {
                            "to": {"type": "array", "items": {"type": "string"}},
                            "cc": {"type": "array", "items": {"type": "string"}},
                            "bcc": {"type": "array", "items": {"type": "string"}},
                            "subject": {"type": "string"},
                            "text": {"type": "string"},
                            "replaces": {"type": ["integer", "null"]},
                        },
                    },
                    "the draft",
                ),
                "responses": {
                    "201": _json(
                        {"type": "object", "properties": {"id": {"type": "integer"}}},
                        "the draft's message id",
                    ),
                    "401": _ERRORS["401"],
                    "422": _ERRORS["422"],
                },
            },
        },
        "/api/v1/messages/{id}": {
            "get": {
                "summary": "One message with text, sanitised html and attachments",
                "parameters": [_ID],
                "responses": {"200": {"description": "the message"}, **_ERRORS},
            },
            "patch": {
                "summary": "Set unread and/or starred",
                "parameters": [_ID],
                "requestBody": _body(
                    {"unread": {"type": "boolean"}, "starred": {"type": "boolean"}}, []
                ),
                "responses": {"200": _json(_ref("Summary"), "the message"), **_ERRORS},
            },
            "delete": {
                "summary": "Move to Trash; in Trash, delete forever",
                "parameters": [_ID],
                "responses": {"200": {"description": "moved or deleted"}, **_ERRORS},
            },
        },
        "/api/v1/messages/{id}/raw": {
            "get": {
                "summary": "The raw message",
                "parameters": [_ID],
                "responses": {
                    "200": {"description": "RFC 5322", "content": {"message/rfc822": {}}},
                    **_ERRORS,
                },
            }
        },
        "/api/v1/search": {
            "get": {
                "summary": "Full-text search with from: to: subject: filename: has:attachment "
                "is:unread before: after: in: (docs/search.md)",
                "parameters": [
                    {"name": "q", "in": "query", "required": True, "schema": {"type": "string"}},
                    *_PAGE,
                ],
                "responses": {"200": _json(_ref("Listing"), "a page"), **_ERRORS},
            }
        },
    },
}
OPENAPI["paths"].update(_FOLDER_PATHS)

# The admin API (issue 16; views/api_admin.py): an administrator's personal API token
# only; for anyone else, a session cookie included, these paths are 404.
_ADMIN_ONLY = {
    "security": [{"bearer": []}],
    "description": "An administrator's token only; anyone else gets 404, as for no path.",
}
_ADDRESS = {"name": "address", "in": "path", "required": True, "schema": {"type": "string"}}
_ADMIN_ERRORS = {
    "404": {"description": "not an administrator's token, or no such account"},
    "422": _ERRORS["422"],
    "503": _ERRORS["503"],
}
_ANY = {"type": "object"}
_POLICIES = ("members", "local", "anyone")
_ADDRESS_LIST = {"type": "array", "items": {"type": "string"}}
_MESSAGE_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
_ADMIN_PATHS: dict[str, Any] = {
    "/api/v1/admin/accounts": {
        "get": {
            **_ADMIN_ONLY,
            "summary": "Accounts whose address holds q, by address; next: pass as after",
            "parameters": [
                {"name": "q", "in": "query", "schema": {"type": "string"}},
                {"name": "after", "in": "query", "schema": {"type": "string"}},
                _PAGE[0],
            ],
            "responses": {"200": _json(_ANY, "a page"), **_ADMIN_ERRORS},
        },
        "post": {
            **_ADMIN_ONLY,
            "summary": "Create an account (the sign-up's rules)",
            "requestBody": _body(
                {
                    "name": {"type": "string"},
                    "address": {"type": "string"},
                    "password": {"type": "string"},
                },
                ["name", "address", "password"],
            ),
            "responses": {
                "201": _json(_ANY, "created"),
                "409": {"description": "address taken"},
                **_ADMIN_ERRORS,
            },
        },
    },
    "/api/v1/admin/accounts/{address}/{action}": {
        "post": {
            **_ADMIN_ONLY,
            "summary": "disable, enable, grant or revoke the admin role, or a one-time"
            " password-reset link (returned once)",
            "parameters": [
                _ADDRESS,
                {
                    "name": "action",
                    "in": "path",
                    "required": True,
                    "schema": {"enum": ["disable", "enable", "grant", "revoke", "reset-link"]},
                },
            ],
            "responses": {
                "200": _json(_ANY, "done"),
                "409": {"description": "the only administrator"},
                **_ADMIN_ERRORS,
            },
        }
    },
    "/api/v1/admin/accounts/{address}": {
        "delete": {
            **_ADMIN_ONLY,
            "summary": "Delete the account with all its mail (its address is retired)",
            "parameters": [_ADDRESS],
            "responses": {
                "204": {"description": "deleted"},
                "409": {"description": "the only administrator"},
                **_ADMIN_ERRORS,
            },
        }
    },
    "/api/v1/admin/registration": {
        "put": {
            **_ADMIN_ONLY,
            "summary": "Choose the registration mode (overrides LOCALPOST_REGISTRATION)",
            "requestBody": _body({"mode": {"enum": ["open", "invite", "closed"]}}, ["mode"]),
            "responses": {"200": _json(_ANY, "chosen"), **_ADMIN_ERRORS},
        }
    },
    "/api/v1/admin/audit": {
        "get": {
            **_ADMIN_ONLY,
            "summary": "The audit log, newest first; next: pass as before",
            "parameters": [
                {"name": "before", "in": "query", "schema": {"type": "string"}},
                _PAGE[0],
            ],
            "responses": {"200": _json(_ANY, "a page"), **_ADMIN_ERRORS},
        }
    },
    "/api/v1/admin/accounts/{address}/quota": {
        "put": {
            **_ADMIN_ONLY,
            "summary": "Set the storage quota: a size read as LOCALPOST_DEFAULT_QUOTA is"
            " (500MiB, 2GiB), 0 for none, or default; answers the usage in bytes",
            "parameters": [_ADDRESS],
            "requestBody": _body({"quota": {"type": "string"}}, ["quota"]),
            "responses": {"200": _json(_ANY, "set"), **_ADMIN_ERRORS},
        }
    },
    "/api/v1/admin/aliases": {
        "get": {
            **_ADMIN_ONLY,
            "summary": "Every alias and the accounts it delivers to",
            "responses": {"200": _json(_ANY, "the aliases"), **_ADMIN_ERRORS},
        },
        "post": {
            **_ADMIN_ONLY,
            "summary": "Make address deliver to the target accounts (added to any it has)",
            "requestBody": _body(
                {
                    "address": {"type": "string"},
                    "targets": {"type": "array", "items": {"type": "string"}},
                },
                ["address", "targets"],
            ),
            "responses": {"200": _json(_ANY, "the alias"), **_ADMIN_ERRORS},
        },
    },
    "/api/v1/admin/aliases/{address}": {
        "delete": {
            **_ADMIN_ONLY,
            "summary": "Delete the alias",
            "parameters": [_ADDRESS],
            "responses": {"204": {"description": "deleted"}, **_ADMIN_ERRORS},
        }
    },
    "/api/v1/admin/lists": {
        "get": {
            **_ADMIN_ONLY,
            "summary": "Every list: address, policy, members",
            "responses": {"200": _json(_ANY, "the lists"), **_ADMIN_ERRORS},
        },
        "post": {
            **_ADMIN_ONLY,
            "summary": "A new list with no members",
            "requestBody": _body(
                {"address": {"type": "string"}, "policy": {"enum": list(_POLICIES)}},
                ["address", "policy"],
            ),
            "responses": {"201": _json(_ANY, "created"), **_ADMIN_ERRORS},
        },
    },
    "/api/v1/admin/lists/{address}": {
        "get": {
            **_ADMIN_ONLY,
            "summary": "One list: policy and members",
            "parameters": [_ADDRESS],
            "responses": {"200": _json(_ANY, "the list"), **_ADMIN_ERRORS},
        },
        "patch": {
            **_ADMIN_ONLY,
            "summary": "Change the policy, add and remove members (each audited, in that order)",
            "parameters": [_ADDRESS],
            "requestBody": _body(
                {
                    "policy": {"enum": list(_POLICIES)},
                    "add": _ADDRESS_LIST,
                    "remove": _ADDRESS_LIST,
                },
                [],
            ),
            "responses": {"200": _json(_ANY, "the list"), **_ADMIN_ERRORS},
        },
        "delete": {
            **_ADMIN_ONLY,
            "summary": "Delete the list",
            "parameters": [_ADDRESS],
            "responses": {"204": {"description": "deleted"}, **_ADMIN_ERRORS},
        },
    },
    "/api/v1/admin/catchalls": {
        "get": {
            **_ADMIN_ONLY,
            "summary": "Every local domain and its catch-all target (null: off)",
            "responses": {"200": _json(_ANY, "the domains"), **_ADMIN_ERRORS},
        }
    },
    "/api/v1/admin/catchalls/{domain}": {
        "put": {
            **_ADMIN_ONLY,
            "summary": "Turn the domain's catch-all on (target: an address) or off (null)",
            "parameters": [
                {"name": "domain", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "requestBody": _body({"target": {"type": ["string", "null"]}}, ["target"]),
            "responses": {
                "200": _json(_ANY, "on"),
                "204": {"description": "off"},
                **_ADMIN_ERRORS,
            },
        }
    },
    "/api/v1/admin/invitations": {
        "get": {
            **_ADMIN_ONLY,
            "summary": "Invitations, newest first",
            "parameters": [_PAGE[0]],
            "responses": {"200": _json(_ANY, "the invitations"), **_ADMIN_ERRORS},
        },
        "post": {
            **_ADMIN_ONLY,
            "summary": "A one-time sign-up link (returned once), optionally for one address",
            "requestBody": _body(
                {"address": {"type": ["string", "null"]}, "days": {"type": "integer"}}, []
            ),
            "responses": {"201": _json(_ANY, "the link"), **_ADMIN_ERRORS},
        },
    },
    "/api/v1/admin/invitations/{id}": {
        "delete": {
            **_ADMIN_ONLY,
            "summary": "Revoke an invitation",
            "parameters": [
                {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
            ],
            "responses": {"204": {"description": "revoked"}, **_ADMIN_ERRORS},
        }
    },
    "/api/v1/admin/unclaimed": {
        "get": {
            **_ADMIN_ONLY,
            "summary": "Mail that reached no account, newest first; next: pass as before",
            "parameters": [
                {"name": "before", "in": "query", "schema": {"type": "string"}},
                _PAGE[0],
            ],
            "responses": {"200": _json(_ANY, "a page"), **_ADMIN_ERRORS},
        }
    },
    "/api/v1/admin/unclaimed/{id}": {
        "delete": {
            **_ADMIN_ONLY,
            "summary": "Delete such a message",
            "parameters": [_MESSAGE_ID],
            "responses": {"204": {"description": "deleted"}, **_ADMIN_ERRORS},
        }
    },
    "/api/v1/admin/unclaimed/{id}/deliver": {
        "post": {
            **_ADMIN_ONLY,
            "summary": "Put such a message into an account's Inbox; it leaves the unclaimed",
            "parameters": [_MESSAGE_ID],
            "requestBody": _body({"address": {"type": "string"}}, ["address"]),
            "responses": {"204": {"description": "delivered"}, **_ADMIN_ERRORS},
        }
    },
}
OPENAPI["paths"].update(_ADMIN_PATHS)
