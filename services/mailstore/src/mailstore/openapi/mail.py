"""The OpenAPI paths and schemas of accounts and mail: the store's original API."""

from __future__ import annotations

from typing import Any

from mailstore.openapi.common import (
    ADDRESS,
    INVALID,
    JSON,
    NOT_FOUND,
    OVERLOADED,
    THROTTLED,
    error,
    json_body,
    json_content,
    ref,
)

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
_MESSAGE_PARAMS = [ADDRESS, _ID]


def _message_op(summary: str, ok: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"summary": summary, "responses": {**ok, "404": NOT_FOUND}, **extra}


_PAGE = json_content(ref("Page"), "A page of messages, newest first")
_FOLDER_PAGE = json_content(
    ref("FolderPage"), "A page of messages, newest first, and where it stands"
)
_SUMMARY = json_content(ref("MessageSummary"), "The message's summary after the change")

MAIL_SCHEMAS: dict[str, Any] = {
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
        "required": ["address", "password", "client", "channel"],
        "properties": {
            "address": {"type": "string"},
            "password": {"type": "string"},
            "client": {
                "type": "string",
                "minLength": 1,
                "maxLength": 64,
                "description": "the client's IP address as the caller's socket saw it",
            },
            "channel": {"enum": ["web", "api", "smtp", "imap", "pop3"]},
            "trusted_device": {
                "type": "boolean",
                "default": False,
                "description": "the web's device cookie for this account: the owner's "
                "browser, not held to the account's ceiling of failed logins",
            },
        },
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
            "folder": ref("FolderId"),
            "read": {"type": "boolean", "description": "IMAP's \\Seen"},
            "flagged": {"type": "boolean", "description": "\\Flagged: the web's star"},
            "answered": {"type": "boolean", "description": "\\Answered: replied to"},
            "forwarded": {"type": "boolean", "description": "the keyword $Forwarded"},
            "from": ref("Person"),
            "to": {"type": "array", "items": ref("Person")},
            "cc": {"type": "array", "items": ref("Person")},
            "subject": {"type": "string"},
            "preview": {"type": "string", "description": "first 200 characters of the text"},
            "date": {"type": ["string", "null"], "format": "date-time", "description": "Date:"},
            "received_at": {"type": "string", "format": "date-time"},
            "has_attachments": {"type": "boolean"},
            "size": {"type": "integer", "description": "bytes of the raw message"},
            "sender_check": {
                "enum": ["pass", "fail", "none", None],
                "description": "the gateway's localpost-sender result (Authentication-Results):"
                " fail means From:/Sender: names a local address its sender did not prove;"
                " null when the gateway gave none",
            },
            "sender_claimed": {
                "type": ["string", "null"],
                "description": "the mailbox that result is about (header.from)",
            },
            "conversation": {
                "type": "object",
                "description": "only in a listing with conversations=true: the row's"
                " conversation in the folder",
                "properties": {
                    "messages": {"type": "integer", "minimum": 1},
                    "unread": {"type": "boolean", "description": "any of them unread"},
                    "flagged": {"type": "boolean", "description": "any of them starred"},
                    "senders": {
                        "type": "array",
                        "items": ref("Person"),
                        "description": "the From of its last ten messages, oldest first",
                    },
                },
            },
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
            ref("MessageSummary"),
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
                    "attachments": {"type": "array", "items": ref("Attachment")},
                    "parse_error": {"type": ["string", "null"]},
                    "parse_defects": {"type": "array", "items": {"type": "string"}},
                    "delivered_to": {
                        "type": ["array", "null"],
                        "items": {"type": "string"},
                        "description": "the sender's Sent copy of a message submitted"
                        " through the gateway: the recipients it accepted (a partial"
                        " delivery lacks some of To and Cc); null otherwise",
                    },
                },
            },
        ]
    },
    "Page": {
        "type": "object",
        "required": ["messages", "next_cursor"],
        "properties": {
            "messages": {"type": "array", "items": ref("MessageSummary")},
            "next_cursor": {"type": ["string", "null"]},
        },
    },
    "FolderPage": {
        "allOf": [
            ref("Page"),
            {
                "type": "object",
                "required": ["total", "offset", "prev_cursor"],
                "properties": {
                    "total": {"type": "integer", "minimum": 0},
                    "offset": {
                        "type": "integer",
                        "minimum": 0,
                        "description": "messages on the pages before this one",
                    },
                    "prev_cursor": {
                        "type": ["string", "null"],
                        "description": "the cursor of the page before this one; null "
                        "when that is the first page, or when offset is 0 (none)",
                    },
                    "purge_days": {
                        "type": ["integer", "null"],
                        "minimum": 1,
                        "description": "Trash only: days after which its messages are "
                        "deleted for ever (MAILSTORE_TRASH_DAYS); null for other folders",
                    },
                },
            },
        ]
    },
    "Folder": {
        "type": "object",
        "properties": {
            "id": ref("FolderId"),
            "name": {"type": "string", "description": "full name, / between levels"},
            "special_use": {"enum": ["\\Sent", "\\Drafts", "\\Trash", "\\Junk", "\\Archive", None]},
            "total": {"type": "integer", "description": "absent with counts=unread"},
            "unread": {"type": "integer"},
        },
    },
}


MAIL_PATHS: dict[str, Any] = {
    "/healthz": {
        "get": {
            "summary": "Liveness",
            "security": [],
            "responses": {"200": json_content(ref("Status"), "The process runs")},
        }
    },
    "/readyz": {
        "get": {
            "summary": "Readiness: the database answers and the consumer is on its queue",
            "security": [],
            "responses": {
                "200": json_content(ref("Status"), "Ready"),
                "503": json_content(ref("Status"), "Not ready, with the reason"),
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
            "responses": {"200": json_content({"type": "object"}, "OpenAPI 3.1")},
        }
    },
    "/v1/accounts": {
        "post": {
            "summary": "Create an account (the store hashes the password with bcrypt)",
            "requestBody": {"required": True, "content": {JSON: {"schema": ref("NewAccount")}}},
            "responses": {
                "201": json_content(ref("Account"), "Created"),
                "409": error("The address is taken, or was a deleted account's (retired for good)"),
                "422": INVALID,
                "503": OVERLOADED,
            },
        }
    },
    "/v1/auth/verify": {
        "post": {
            "summary": "Check credentials; takes as long for an unknown address as for a known one",
            "description": (
                "Every channel's logins, under one throttle of failed attempts (successes "
                "never count): per client (an IPv4 address or IPv6 /64; 20 per 15 minutes), "
                "per account and client (10 per 15 minutes), per account (100 per hour). "
                "Clients in LOCALPOST_TRUSTED_NETWORKS are spared the per-client limits "
                "unless LOCALPOST_THROTTLE_TRUSTED=1; a trusted device, or a client that "
                "logged in to the account in the last 30 days, the per-account one. Over a "
                "limit the answer is 429 without checking the password."
            ),
            "requestBody": {"required": True, "content": {JSON: {"schema": ref("Credentials")}}},
            "responses": {
                "200": json_content(ref("Account"), "Valid; last login time updated"),
                "401": error("Unknown address or wrong password"),
                "422": INVALID,
                "429": THROTTLED,
                "503": OVERLOADED,
            },
        }
    },
    "/v1/mailboxes/{address}": {
        "get": {
            "summary": "Does this mailbox exist? (the gateway's RCPT check)",
            "parameters": [ADDRESS],
            "responses": {
                "200": json_content(
                    {
                        "type": "object",
                        "required": ["address", "name", "disabled"],
                        "properties": {
                            "address": {"type": "string"},
                            "name": {"type": "string"},
                            "disabled": {
                                "type": "boolean",
                                "description": "an administrator disabled it: refuse mail",
                            },
                        },
                    },
                    "It exists",
                ),
                "404": NOT_FOUND,
            },
        }
    },
    "/v1/recipients/{address}": {
        "get": {
            "summary": "Does mail to this address reach anyone? (the gateway's RCPT check)",
            "description": (
                "Yes for an account's address, a subaddress of one (local+detail@, RFC "
                "5233), an alias, a list, a role address (RFC 2142) with an alias or "
                "administrators behind it, and any address of a domain with a catch-all. "
                "The 404 is the one for an unknown account: it does not tell which kinds "
                "of address exist."
            ),
            "parameters": [
                ADDRESS,
                {
                    "name": "sender",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "string"},
                    "description": (
                        "the sender the gateway vouches for (the authenticated submitter, "
                        "else MAIL FROM); absent or empty: the null sender. A list's "
                        "posting policy is checked against it"
                    ),
                },
            ],
            "responses": {
                "200": json_content(
                    {
                        "type": "object",
                        "required": ["address", "disabled", "full", "room"],
                        "properties": {
                            "address": {"type": "string"},
                            "full": {
                                "type": "boolean",
                                "description": "every account behind it is at its storage "
                                "quota: refuse for now, 452 4.2.2",
                            },
                            "room": {
                                "type": ["integer", "null"],
                                "description": "the most bytes one account behind it may "
                                "still take (null: no limit); larger mail gets 552 5.2.2",
                            },
                            "disabled": {
                                "type": "boolean",
                                "description": (
                                    "only accounts an administrator disabled are behind it "
                                    "(an alias skips them): refuse mail, 550 5.2.1"
                                ),
                            },
                            "sender_refused": {
                                "type": "boolean",
                                "description": (
                                    "a list whose posting policy refuses the sender: "
                                    "refuse mail, 550 5.7.1"
                                ),
                            },
                        },
                    },
                    "It reaches at least one account",
                ),
                "404": NOT_FOUND,
            },
        }
    },
    "/v1/accounts/{address}/aliases": {
        "get": {
            "summary": "The aliases that deliver to this account (it may send as them)",
            "parameters": [ADDRESS],
            "responses": {
                "200": json_content(
                    {
                        "type": "object",
                        "required": ["aliases"],
                        "properties": {"aliases": {"type": "array", "items": {"type": "string"}}},
                    },
                    "Alias addresses, sorted",
                ),
                "404": NOT_FOUND,
            },
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
                "200": json_content(
                    {"type": "object", "properties": {"accounts": {"items": ref("Account")}}},
                    "Matching accounts, by address",
                ),
                "422": INVALID,
            },
        }
    },
    "/v1/accounts/{address}/folders": {
        "get": {
            "summary": "Total and unread per folder",
            "parameters": [
                ADDRESS,
                {
                    "name": "counts",
                    "in": "query",
                    "description": "unread: only the unread counts (no total), which stay "
                    "fast however large the folder",
                    "schema": {"enum": ["all", "unread"], "default": "all"},
                },
            ],
            "responses": {
                "200": json_content(
                    {
                        "type": "object",
                        "properties": {"folders": {"items": ref("Folder")}, "quota": ref("Quota")},
                    },
                    "Every folder: the six standard ones in a fixed order, then the others by "
                    "name; and the account's storage quota, which the web's sidebar shows",
                ),
                "404": NOT_FOUND,
                "422": INVALID,
            },
        },
        "post": {
            "summary": "Create a folder (and missing parents) by its full name",
            "parameters": [ADDRESS],
            "requestBody": json_body(
                {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}
            ),
            "responses": {
                "201": json_content(
                    {"type": "object", "properties": {"id": ref("FolderId"), "name": {}}},
                    "The new folder",
                ),
                "404": NOT_FOUND,
                "409": error('code "alreadyexists": the name is taken'),
                "422": INVALID,
            },
        },
    },
    "/v1/accounts/{address}/messages": {
        "get": {
            "summary": "A folder, newest first, keyset pagination",
            "description": (
                "With conversations=true, one row per conversation (References / "
                "In-Reply-To): its newest message in the folder, with a conversation "
                "object; total, offset and the cursors count conversations."
            ),
            "parameters": [
                ADDRESS,
                {
                    "name": "folder",
                    "in": "query",
                    "description": "a folder id of the account; another is 404",
                    "schema": {**ref("FolderId"), "default": "inbox"},
                },
                {
                    "name": "conversations",
                    "in": "query",
                    "schema": {"enum": ["true", "false"], "default": "false"},
                },
                _LIMIT,
                _CURSOR,
            ],
            "responses": {"200": _FOLDER_PAGE, "404": NOT_FOUND, "422": INVALID},
        }
    },
    "/v1/accounts/{address}/search": {
        "get": {
            "summary": "Full-text search over subject, addresses and text",
            "description": (
                "Free text as in websearch_to_tsquery ('simple' configuration), each word "
                "of 3 characters or more matching the words it begins or that share its "
                "English stem; runs of CJK characters match as substrings. Operators: "
                "from:, to:, subject:, filename:, has:attachment, is:read, is:unread, "
                "before:YYYY-MM-DD, after:YYYY-MM-DD and in:FOLDER (a folder id) or in:all "
                "(default: all folders but Trash and Junk); an in: folder the account does "
                "not have is 422. docs/search.md has the details."
            ),
            "parameters": [
                ADDRESS,
                {"name": "q", "in": "query", "schema": {"type": "string", "maxLength": 1000}},
                _LIMIT,
                _CURSOR,
            ],
            "responses": {"200": _PAGE, "404": NOT_FOUND, "422": INVALID},
        }
    },
    "/v1/accounts/{address}/messages/{id}": {
        "parameters": _MESSAGE_PARAMS,
        "get": _message_op("One message", {"200": json_content(ref("Message"), "The message")}),
        "patch": _message_op(
            "Set or clear flags (at least one)",
            {"200": _SUMMARY, "422": INVALID},
            requestBody={
                "required": True,
                "content": {
                    JSON: {
                        "schema": {
                            "type": "object",
                            "minProperties": 1,
                            "properties": {
                                name: {"type": "boolean"}
                                for name in ("read", "flagged", "answered", "forwarded")
                            },
                        }
                    }
                },
            },
        ),
        "delete": _message_op("Delete forever", {"204": {"description": "Deleted"}}),
    },
    "/v1/accounts/{address}/messages/{id}/conversation": {
        "parameters": _MESSAGE_PARAMS,
        "get": _message_op(
            "The message's conversation, oldest first: its messages in the message's folder"
            " and in every folder but Trash and Junk (the newest 200)",
            {
                "200": json_content(
                    {
                        "type": "object",
                        "properties": {
                            "messages": {"type": "array", "items": ref("MessageSummary")}
                        },
                    },
                    "The conversation",
                )
            },
        ),
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
