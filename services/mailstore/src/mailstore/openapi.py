"""The OpenAPI 3.1 document of the internal API, served at ``/openapi.json``.

Hand-written, so that it says what the contract promises rather than what a generator
inferred; tests check that every route of the table appears here and nothing else.
"""

from __future__ import annotations

from typing import Any

_JSON = "application/json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {_JSON: {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(_ref("Error"), description)


_NOT_FOUND = _error("No such account, or no such message in this account")
_INVALID = _json(_ref("ValidationError"), "Fields failed validation")
_ADDRESS = {"name": "address", "in": "path", "required": True, "schema": {"type": "string"}}
_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 0}}
_LIMIT = {
    "name": "limit",
    "in": "query",
    "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
}
_CURSOR = {
    "name": "cursor",
    "in": "query",
    "description": "next_cursor of the previous page (opaque)",
    "schema": {"type": "string"},
}
_MESSAGE_PARAMS = [_ADDRESS, _ID]


def _message_op(summary: str, ok: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"summary": summary, "responses": {**ok, "404": _NOT_FOUND}, **extra}


_PAGE = _json(_ref("Page"), "A page of messages, newest first")
_SUMMARY = _json(_ref("MessageSummary"), "The message's summary after the change")

_SCHEMAS: dict[str, Any] = {
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
    "NewAccount": {
        "type": "object",
        "required": ["address", "password"],
        "properties": {
            "address": {"type": "string", "description": "in a local domain; stored lowercased"},
            "name": {"type": "string", "maxLength": 200, "default": ""},
            "password": {"type": "string", "minLength": 8, "maxLength": 1024},
        },
    },
    "Credentials": {
        "type": "object",
        "required": ["address", "password"],
        "properties": {"address": {"type": "string"}, "password": {"type": "string"}},
    },
    "Person": {
        "type": "object",
        "required": ["name", "address"],
        "properties": {"name": {"type": "string"}, "address": {"type": "string"}},
    },
    "MessageSummary": {
        "type": "object",
        "properties": {
            "id": {"type": "integer", "description": "the mailbox entry's id"},
            "folder": {"enum": ["inbox", "sent", "trash"]},
            "read": {"type": "boolean"},
            "from": _ref("Person"),
            "to": {"type": "array", "items": _ref("Person")},
            "cc": {"type": "array", "items": _ref("Person")},
            "subject": {"type": "string"},
            "preview": {"type": "string", "description": "first 200 characters of the text"},
            "date": {"type": ["string", "null"], "format": "date-time", "description": "Date:"},
            "received_at": {"type": "string", "format": "date-time"},
            "has_attachments": {"type": "boolean"},
            "size": {"type": "integer", "description": "bytes of the raw message"},
        },
    },
    "Attachment": {
        "type": "object",
        "properties": {
            "index": {"type": "integer"},
            "filename": {"type": ["string", "null"]},
            "content_type": {"type": "string"},
            "size": {"type": "integer"},
            "content_id": {"type": ["string", "null"], "description": "without <>"},
            "disposition": {"enum": ["inline", "attachment"]},
        },
    },
    "Message": {
        "allOf": [
            _ref("MessageSummary"),
            {
                "type": "object",
                "properties": {
                    "message_id_header": {"type": ["string", "null"]},
                    "in_reply_to": {"type": ["string", "null"]},
                    "references": {"type": ["string", "null"]},
                    "text": {"type": "string"},
                    "html": {
                        "type": ["string", "null"],
                        "description": "as received: sanitise before rendering",
                    },
                    "attachments": {"type": "array", "items": _ref("Attachment")},
                    "parse_error": {"type": ["string", "null"]},
                    "parse_defects": {"type": "array", "items": {"type": "string"}},
                },
            },
        ]
    },
    "Page": {
        "type": "object",
        "required": ["messages", "next_cursor"],
        "properties": {
            "messages": {"type": "array", "items": _ref("MessageSummary")},
            "next_cursor": {"type": ["string", "null"]},
        },
    },
    "Folder": {
        "type": "object",
        "properties": {
            "name": {"enum": ["inbox", "sent", "trash"]},
            "total": {"type": "integer"},
            "unread": {"type": "integer"},
        },
    },
    "Status": {
        "type": "object",
        "required": ["status"],
        "properties": {"status": {"type": "string"}, "reason": {"type": "string"}},
    },
}

_PATHS: dict[str, Any] = {
    "/healthz": {
        "get": {
            "summary": "Liveness",
            "security": [],
            "responses": {"200": _json(_ref("Status"), "The process runs")},
        }
    },
    "/readyz": {
        "get": {
            "summary": "Readiness: the database answers and the consumer is on its queue",
            "security": [],
            "responses": {
                "200": _json(_ref("Status"), "Ready"),
                "503": _json(_ref("Status"), "Not ready, with the reason"),
            },
        }
    },
    "/metrics": {
        "get": {
            "summary": "Prometheus metrics (text exposition format)",
            "security": [],
            "responses": {
                "200": {"description": "Metrics", "content": {"text/plain": {"schema": {}}}}
            },
        }
    },
    "/openapi.json": {
        "get": {
            "summary": "This document",
            "security": [],
            "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1")},
        }
    },
    "/v1/accounts": {
        "post": {
            "summary": "Create an account (the store hashes the password with bcrypt)",
            "requestBody": {"required": True, "content": {_JSON: {"schema": _ref("NewAccount")}}},
            "responses": {
                "201": _json(_ref("Account"), "Created"),
                "409": _error("The address is taken"),
                "422": _INVALID,
            },
        }
    },
    "/v1/auth/verify": {
        "post": {
            "summary": "Check credentials; takes as long for an unknown address as for a known one",
            "requestBody": {"required": True, "content": {_JSON: {"schema": _ref("Credentials")}}},
            "responses": {
                "200": _json(_ref("Account"), "Valid; last login time updated"),
                "401": _error("Unknown address or wrong password"),
                "422": _INVALID,
            },
        }
    },
    "/v1/mailboxes/{address}": {
        "get": {
            "summary": "Does this mailbox exist? (the gateway's RCPT check)",
            "parameters": [_ADDRESS],
            "responses": {"200": _json(_ref("Account"), "It exists"), "404": _NOT_FOUND},
        }
    },
    "/v1/directory": {
        "get": {
            "summary": "Accounts whose address or name starts with prefix (autocomplete)",
            "parameters": [
                {"name": "prefix", "in": "query", "schema": {"type": "string", "default": ""}},
                {
                    "name": "limit",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 10},
                },
            ],
            "responses": {
                "200": _json(
                    {"type": "object", "properties": {"accounts": {"items": _ref("Account")}}},
                    "Matching accounts, by address",
                ),
                "422": _INVALID,
            },
        }
    },
    "/v1/accounts/{address}/folders": {
        "get": {
            "summary": "Total and unread per folder",
            "parameters": [_ADDRESS],
            "responses": {
                "200": _json(
                    {"type": "object", "properties": {"folders": {"items": _ref("Folder")}}},
                    "inbox, sent and trash, in that order",
                ),
                "404": _NOT_FOUND,
            },
        }
    },
    "/v1/accounts/{address}/messages": {
        "get": {
            "summary": "A folder, newest first, keyset pagination",
            "parameters": [
                _ADDRESS,
                {
                    "name": "folder",
                    "in": "query",
                    "schema": {"enum": ["inbox", "sent", "trash"], "default": "inbox"},
                },
                _LIMIT,
                _CURSOR,
            ],
            "responses": {"200": _PAGE, "404": _NOT_FOUND, "422": _INVALID},
        }
    },
    "/v1/accounts/{address}/search": {
        "get": {
            "summary": "Full-text search over subject, addresses and text",
            "description": (
                "Free text as in websearch_to_tsquery ('simple' configuration), plus the "
                "operators from:, to:, subject:, has:attachment, is:read, is:unread, "
                "before:YYYY-MM-DD, after:YYYY-MM-DD and in:inbox|sent|trash|all "
                "(default: all but Trash)."
            ),
            "parameters": [
                _ADDRESS,
                {"name": "q", "in": "query", "schema": {"type": "string", "maxLength": 1000}},
                _LIMIT,
                _CURSOR,
            ],
            "responses": {"200": _PAGE, "404": _NOT_FOUND, "422": _INVALID},
        }
    },
    "/v1/accounts/{address}/messages/{id}": {
        "parameters": _MESSAGE_PARAMS,
        "get": _message_op("One message", {"200": _json(_ref("Message"), "The message")}),
        "patch": _message_op(
            "Mark read or unread",
            {"200": _SUMMARY, "422": _INVALID},
            requestBody={
                "required": True,
                "content": {
                    _JSON: {
                        "schema": {
                            "type": "object",
                            "required": ["read"],
                            "properties": {"read": {"type": "boolean"}},
                        }
                    }
                },
            },
        ),
        "delete": _message_op("Delete forever", {"204": {"description": "Deleted"}}),
    },
    "/v1/accounts/{address}/messages/{id}/raw": {
        "parameters": _MESSAGE_PARAMS,
        "get": _message_op(
            "The message as received",
            {"200": {"description": "RFC 5322", "content": {"message/rfc822": {"schema": {}}}}},
        ),
    },
    "/v1/accounts/{address}/messages/{id}/attachments/{n}": {
        "parameters": [
            *_MESSAGE_PARAMS,
            {"name": "n", "in": "path", "required": True, "schema": {"type": "integer"}},
        ],
        "get": _message_op(
            "One attachment's bytes (Content-Disposition: attachment, nosniff)",
            {"200": {"description": "The bytes", "content": {"*/*": {"schema": {}}}}},
        ),
    },
    "/v1/accounts/{address}/messages/{id}/trash": {
        "parameters": _MESSAGE_PARAMS,
        "post": _message_op("Move to Trash (idempotent)", {"200": _SUMMARY}),
    },
    "/v1/accounts/{address}/messages/{id}/restore": {
        "parameters": _MESSAGE_PARAMS,
        "post": _message_op("Back to the folder it was trashed from", {"200": _SUMMARY}),
    },
}

OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "Localpost mail store (internal)",
        "version": "1",
        "description": (
            "Every call that names a message also names the account; a message outside "
            'that account is 404. Errors are JSON {"error": ...}; 422 adds "fields".'
        ),
    },
    "security": [{"bearer": []}],
    "paths": _PATHS,
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": _SCHEMAS,
    },
}

# Every /v1 operation answers 401 without the service token; said once here, not 20 times.
for _path, _item in _PATHS.items():
    if _path.startswith("/v1/"):
        for _method, _operation in _item.items():
            if _method != "parameters":
                _operation["responses"]["401"] = _error("Missing or wrong service token")
