"""The OpenAPI paths and schemas of the IMAP-facing calls (views.imap, views.imap_append)."""

from __future__ import annotations

from typing import Any

from mailstore.openapi.common import ADDRESS, INVALID, json_body, json_content, ref

_PREFIX = "/v1/accounts/{address}/imap"
_UIDS = {"type": "string", "description": "a UID set, e.g. 1:5,7 (no * or $)"}
_FOLDER = {"type": "string", "description": "full folder name, / the delimiter"}
_FOLDER_QUERY = {"name": "folder", "in": "query", "required": True, "schema": _FOLDER}
_REFUSAL = json_content(ref("FolderError"), "Refused; code names the case")
_MISSING = json_content(ref("FolderError"), "No such account, folder or message")
_FLAG_LIST = {"type": "array", "items": {"type": "string"}}


def _op(summary: str, ok: dict[str, Any], **responses: Any) -> dict[str, Any]:
    return {
        "summary": summary,
        "parameters": [ADDRESS],
        "responses": {**ok, "404": _MISSING, "422": INVALID, **responses},
    }


def _post(summary: str, body: dict[str, Any], ok: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {**_op(summary, ok, **more), "requestBody": json_body(body)}


def _get(summary: str, params: list[Any], ok: dict[str, Any], **more: Any) -> dict[str, Any]:
    operation = _op(summary, ok, **more)
    operation["parameters"] = [ADDRESS, *params]
    return operation


def _obj(required: list[str], **properties: Any) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties}


_NO_CONTENT = {"204": {"description": "Done"}}

IMAP_SCHEMAS: dict[str, Any] = {
    "FolderError": _obj(
        ["error"],
        error={"type": "string"},
        code={
            "enum": [
                "nonexistent",
                "alreadyexists",
                "haschildren",
                "cannot",
                "unavailable",
                "forgotten",
                "toobig",
                "limit",
            ]
        },
    ),
    "ImapFolder": _obj(
        ["name", "uidvalidity", "uidnext", "highestmodseq"],
        name={"type": "string"},
        special_use=_FLAG_LIST,
        subscribed={"type": "boolean", "description": "whether its name is subscribed"},
        children={"type": "boolean"},
        messages={"type": "integer"},
        unseen={"type": "integer"},
        deleted={"type": "integer"},
        size={"type": "integer"},
        uidvalidity={"type": "integer"},
        uidnext={"type": "integer"},
        recent={"type": "integer", "description": "messages no session has claimed"},
        highestmodseq={"type": "integer"},
        ready={"type": "boolean", "description": "false while its UIDs are backfilled"},
    ),
    "FlagState": _obj(
        ["uid", "flags", "keywords", "modseq"],
        uid={"type": "integer"},
        flags=_FLAG_LIST,
        keywords=_FLAG_LIST,
        modseq={"type": "integer"},
    ),
    "SearchProgram": {
        "type": "object",
        "required": ["key"],
        "description": (
            "One IMAP search key (RFC 9051 §6.4.4) as JSON, mirroring the gateway's"
            " imap_gateway.wire.search: key is the upper-case name; ALL, ANSWERED, DELETED,"
            " DRAFT, FLAGGED, SEEN, NEW, OLD, RECENT and UN... take nothing; BCC, BODY, CC,"
            " FROM, SUBJECT, TEXT, TO take value; HEADER field and value; KEYWORD and"
            " UNKEYWORD keyword; BEFORE, ON, SINCE, SENTBEFORE, SENTON, SENTSINCE date"
            " (YYYY-MM-DD); LARGER, SMALLER size; OLDER, YOUNGER seconds; MODSEQ modseq;"
            " UID uids (a UID set, no * or $); NOT arg; OR left and right; AND keys (a list)."
            " Text matches are case-insensitive substrings of decoded header values or of"
            " the raw body (not transfer-decoded). BEFORE/ON/SINCE compare the day of the"
            " internal date in UTC; SENT* the day of the Date: header in its own offset"
            " (RFC 9051 §6.4.4: time and time zone disregarded); no readable Date: matches"
            " none. At most 200 keys, 30 levels (422); a program with text or SENT* keys"
            " reads at most 5000 messages or 256 MiB (413 code limit)."
        ),
        "properties": {
            "key": {"type": "string"},
            "value": {"type": "string"},
            "field": {"type": "string"},
            "keyword": {"type": "string"},
            "date": {"type": "string", "format": "date"},
            "size": {"type": "integer", "minimum": 0},
            "seconds": {"type": "integer", "minimum": 0},
            "modseq": {"type": "integer", "minimum": 0},
            "uids": _UIDS,
            "arg": {"$ref": "#/components/schemas/SearchProgram"},
            "left": {"$ref": "#/components/schemas/SearchProgram"},
            "right": {"$ref": "#/components/schemas/SearchProgram"},
            "keys": {"type": "array", "items": {"$ref": "#/components/schemas/SearchProgram"}},
        },
    },
    "CopyResult": _obj(
        ["uidvalidity", "pairs"],
        uidvalidity={"type": "integer"},
        pairs={"type": "array", "items": {"type": "array", "items": {"type": "integer"}}},
    ),
}

IMAP_PATHS: dict[str, Any] = {
    _PREFIX + "/folders": {
        "get": _get(
            "Every folder with its STATUS figures, INBOX first",
            [],
            {
                "200": json_content(
                    _obj(["folders"], folders={"type": "array", "items": ref("ImapFolder")}),
                    "The folders",
                )
            },
        ),
        "post": _post(
            "CREATE a folder and its missing parents",
            _obj(["name"], name=_FOLDER, special_use=_FLAG_LIST),
            {"201": json_content(_obj(["name"], name=_FOLDER), "Created")},
            **{"409": _REFUSAL},
        ),
    },
    _PREFIX + "/status": {
        "get": _get(
            "STATUS of one folder",
            [_FOLDER_QUERY],
            {"200": json_content(ref("ImapFolder"), "The folder")},
        )
    },
    _PREFIX + "/folders/rename": {
        "post": _post(
            "RENAME; children follow; INBOX's messages move to the new folder",
            _obj(["name", "new_name"], name=_FOLDER, new_name=_FOLDER),
            _NO_CONTENT,
            **{"409": _REFUSAL},
        )
    },
    _PREFIX + "/folders/delete": {
        "post": _post(
            "DELETE a folder without children; never one of the six standard ones",
            _obj(["name"], name=_FOLDER),
            _NO_CONTENT,
            **{"409": _REFUSAL},
        )
    },
    _PREFIX + "/folders/subscription": {
        "post": _post(
            "SUBSCRIBE / UNSUBSCRIBE a name, whether or not a folder has it (RFC 9051"
            " §6.3.7); DELETE keeps a subscription, RENAME moves those at and below the name",
            _obj(["name", "subscribed"], name=_FOLDER, subscribed={"type": "boolean"}),
            _NO_CONTENT,
            # code "limit": the account already has db.subscriptions.MAX_SUBSCRIPTIONS.
            **{"409": _REFUSAL},
        )
    },
    _PREFIX + "/subscriptions": {
        "get": _get(
            "Every subscribed name, INBOX first, also those no folder has",
            [],
            {
                "200": json_content(
                    _obj(["names"], names={"type": "array", "items": _FOLDER}),
                    "The subscribed names",
                )
            },
        )
    },
    _PREFIX + "/select": {
        "get": _get(
            "SELECT's snapshot of a folder",
            [_FOLDER_QUERY],
            {
                "200": json_content(
                    _obj(
                        [
                            "id",
                            "uidvalidity",
                            "uidnext",
                            "highestmodseq",
                            "exists",
                            "uids",
                            "flags",
                        ],
                        id={"type": "string", "description": "folder id, as in events"},
                        uidvalidity={"type": "integer"},
                        uidnext={"type": "integer"},
                        highestmodseq={"type": "integer"},
                        exists={"type": "integer"},
                        uids=_UIDS,
                        flags=_FLAG_LIST,
                        first_unseen={"type": ["integer", "null"]},
                    ),
                    "The snapshot",
                )
            },
            **{"503": json_content(ref("FolderError"), "UIDs still being backfilled")},
        )
    },
    _PREFIX + "/fetch": {
        "post": {
            **_post(
                "FETCH data of a UID set, NDJSON, one line per message, ascending UID",
                _obj(
                    ["folder", "uids"],
                    folder=_FOLDER,
                    uids=_UIDS,
                    changed_since={"type": "integer", "minimum": 0},
                    structure={
                        "oneOf": [{"type": "boolean"}, {"const": "envelope"}],
                        "description": "true: the whole description; envelope: its"
                        " envelope alone (FETCH ENVELOPE without BODY or BODYSTRUCTURE)",
                    },
                    octets={"type": "boolean"},
                ),
                {
                    "200": {
                        "description": "uid, flags, keywords, modseq, internaldate, size"
                        " (and structure: mailstore.imap_structure) per line; with octets,"
                        " a message of at most 32 KiB also has its octets, base64, in octets",
                        "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
                    }
                },
            )
        }
    },
    _PREFIX + "/raw": {
        "get": _get(
            "One message's octets, or length octets from offset",
            [
                _FOLDER_QUERY,
                {"name": "uid", "in": "query", "required": True, "schema": {"type": "integer"}},
                {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0}},
                {"name": "length", "in": "query", "schema": {"type": "integer", "minimum": 0}},
            ],
            {
                "200": {
                    "description": "The octets; X-Message-Size gives the whole size",
                    "content": {"message/rfc822": {"schema": {"type": "string"}}},
                }
            },
        )
    },
    _PREFIX + "/store": {
        "post": _post(
            "STORE flags and keywords",
            _obj(
                ["folder", "uids", "mode", "flags"],
                folder=_FOLDER,
                uids=_UIDS,
                mode={"enum": ["add", "remove", "replace"]},
                flags=_FLAG_LIST,
                unchanged_since={"type": "integer", "minimum": 0},
            ),
            {
                "200": json_content(
                    _obj(
                        ["updated", "modified"],
                        updated={"type": "array", "items": ref("FlagState")},
                        modified=_UIDS,
                    ),
                    "Each message's flags after the STORE; modified: failed UNCHANGEDSINCE",
                )
            },
        )
    },
    _PREFIX + "/copy": {
        "post": _post(
            "COPY into target: new UIDs, the same stored message",
            _obj(["folder", "uids", "target"], folder=_FOLDER, uids=_UIDS, target=_FOLDER),
            {"200": json_content(ref("CopyResult"), "(source UID, new UID) pairs")},
        )
    },
    _PREFIX + "/move": {
        "post": _post(
            "MOVE into target: new UIDs, expunged from the source",
            _obj(["folder", "uids", "target"], folder=_FOLDER, uids=_UIDS, target=_FOLDER),
            {"200": json_content(ref("CopyResult"), "(source UID, new UID) pairs")},
        )
    },
    _PREFIX + "/expunge": {
        "post": _post(
            "EXPUNGE the \\Deleted messages (of uids, when given)",
            _obj(["folder"], folder=_FOLDER, uids=_UIDS),
            {"200": json_content(_obj(["expunged"], expunged=_UIDS), "The UIDs expunged")},
        )
    },
    _PREFIX + "/recent": {
        "post": _post(
            "Claim the messages no session has seen as \\Recent (RFC 3501 §2.3.2)",
            _obj(
                ["folder"],
                folder=_FOLDER,
                claim={"type": "boolean", "description": "false: only look (EXAMINE)"},
            ),
            {
                "200": json_content(
                    _obj(["recent"], recent=_UIDS),
                    "UIDs now recent for the caller alone; some may be expunged",
                )
            },
        )
    },
    _PREFIX + "/changes": {
        "get": _get(
            "Expunges and flag changes after a MODSEQ (QRESYNC, CHANGEDSINCE)",
            [
                _FOLDER_QUERY,
                {"name": "modseq", "in": "query", "required": True, "schema": {"type": "integer"}},
            ],
            {
                "200": json_content(
                    _obj(
                        ["highestmodseq", "vanished", "changed"],
                        highestmodseq={"type": "integer"},
                        vanished=_UIDS,
                        changed={"type": "array", "items": ref("FlagState")},
                    ),
                    "The changes",
                )
            },
            **{"410": json_content(ref("FolderError"), "Expunges after it are forgotten")},
        )
    },
    _PREFIX + "/search": {
        "post": _post(
            "SEARCH a folder: the UIDs matching a program",
            _obj(["folder", "program"], folder=_FOLDER, program=ref("SearchProgram")),
            {"200": json_content(_obj(["uids"], uids=_UIDS), "The matching UIDs")},
            **{"413": json_content(ref("FolderError"), "Over the work one search may do")},
        )
    },
    _PREFIX + "/append": {
        "post": {
            **_op(
                "APPEND / MULTIAPPEND, all or none; a Sent copy already there is answered"
                " with its UID",
                {
                    "200": json_content(
                        _obj(
                            ["uidvalidity", "uids"],
                            uidvalidity={"type": "integer"},
                            uids={"type": "array", "items": {"type": "integer"}},
                        ),
                        "The UIDs, in order",
                    )
                },
                **{
                    "413": json_content(ref("FolderError"), "A message over APPENDLIMIT"),
                    "409": json_content(
                        ref("FolderError"), "overquota: past the account's quota; none stored"
                    ),
                },
            ),
            "requestBody": {
                "required": True,
                "content": {
                    "multipart/form-data": {
                        "schema": _obj(
                            ["meta", "message"],
                            meta={
                                "type": "string",
                                "description": 'JSON {"folder", "messages": [{"flags",'
                                ' "internal_date"}]}',
                            },
                            message={
                                "type": "array",
                                "items": {"type": "string", "format": "binary"},
                            },
                        )
                    }
                },
            },
        }
    },
}
