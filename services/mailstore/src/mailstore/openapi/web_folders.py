"""The OpenAPI paths of the web's folder calls (views.folders, moves and flags)."""

from __future__ import annotations

from typing import Any

from mailstore.openapi.common import (
    ADDRESS,
    INVALID,
    NO_CONTENT,
    NOT_FOUND,
    error,
    json_body,
    json_content,
    ref,
)

_FOLDER_ID = {"type": "string", "pattern": "^[a-z][a-z0-9]{0,19}$"}
_FOLDER = {"name": "folder", "in": "path", "required": True, "schema": _FOLDER_ID}
_NAME = json_body(
    {
        "type": "object",
        "required": ["name"],
        "properties": {
            "name": {"type": "string", "maxLength": 500, "description": "full name, / between"}
        },
    }
)
_REFUSED = json_content(
    ref("Error"),
    'code "alreadyexists" (the name is taken), "cannot" (a standard folder), "inuse" '
    '(a delete of a folder holding messages), "haschildren" (one with subfolders)',
)

WEB_FOLDER_SCHEMAS: dict[str, Any] = {
    "FolderId": _FOLDER_ID,
}

WEB_FOLDER_PATHS: dict[str, Any] = {
    "/v1/accounts/{address}/folders/{folder}": {
        "parameters": [ADDRESS, _FOLDER],
        "patch": {
            "summary": "Rename a user folder (and its subfolders); standard ones are 409",
            "requestBody": _NAME,
            "responses": {**NO_CONTENT, "404": NOT_FOUND, "409": _REFUSED, "422": INVALID},
        },
        "delete": {
            "summary": "Delete an empty user folder without subfolders",
            "responses": {**NO_CONTENT, "404": NOT_FOUND, "409": _REFUSED},
        },
    },
    "/v1/accounts/{address}/starred": {
        "get": {
            "summary": "Flagged messages outside Trash, newest first, keyset pagination",
            "parameters": [
                ADDRESS,
                {"name": "limit", "in": "query", "schema": {"type": "integer", "maximum": 200}},
                {"name": "cursor", "in": "query", "schema": {"type": "string"}},
            ],
            "responses": {
                "200": json_content(
                    ref("FolderPage"), "A page of messages, newest first, and where it stands"
                ),
                "404": NOT_FOUND,
                "422": INVALID,
            },
        }
    },
    "/v1/accounts/{address}/messages/{id}/move": {
        "parameters": [
            ADDRESS,
            {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}},
        ],
        "post": {
            "summary": "Move to a folder of the account (into Trash: restorable)",
            "requestBody": json_body(
                {"type": "object", "required": ["folder"], "properties": {"folder": _FOLDER_ID}}
            ),
            "responses": {
                "200": json_content(ref("MessageSummary"), "The summary after the move"),
                "404": error("No such account, message, or folder of the account"),
                "422": INVALID,
            },
        },
    },
    "/v1/accounts/{address}/drafts": {
        "parameters": [ADDRESS],
        "post": {
            "summary": (
                "Save a draft into Drafts (flagged \\Draft \\Seen), deleting the draft it"
                " replaces in the same transaction"
            ),
            "requestBody": {
                "required": True,
                "content": {
                    "multipart/form-data": {
                        "schema": {
                            "type": "object",
                            "required": ["meta", "message"],
                            "properties": {
                                "meta": {
                                    "type": "string",
                                    "description": 'JSON {"replaces": <draft id> or null}',
                                },
                                "message": {"type": "string", "format": "binary"},
                            },
                        }
                    }
                },
            },
            "responses": {
                "201": json_content(
                    {
                        "type": "object",
                        "required": ["id"],
                        "properties": {"id": {"type": "integer"}},
                    },
                    "The new draft's message id",
                ),
                "404": error("No such account, or ``replaces`` is no draft of the account"),
                "413": json_content(ref("FolderError"), "A message over APPENDLIMIT"),
                "409": json_content(
                    ref("FolderError"), "overquota: the mailbox is full; nothing stored"
                ),
                "422": INVALID,
            },
        },
    },
    "/v1/accounts/{address}/drafts/{id}": {
        "parameters": [
            ADDRESS,
            {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}},
        ],
        "delete": {
            "summary": "Delete a draft forever (it was sent); a message outside Drafts is 404",
            "responses": {**NO_CONTENT, "404": NOT_FOUND},
        },
    },
}
