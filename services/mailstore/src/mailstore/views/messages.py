"""One account's messages: listings, search, reading, flags, Trash, deletion."""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Any
from urllib.parse import quote

from aiohttp import web

from mailstore import db
from mailstore.errors import FolderNotFound, InvalidRequest, MessageNotFound
from mailstore.keys import CONFIG, EVENTS, POOL
from mailstore.search import parse_search
from mailstore.views.common import (
    MAX_ID,
    MAX_INT4,
    account_of,
    decode_cursor,
    encode_cursor,
    entry_id,
    json_object,
    limit_of,
    page,
    summary_json,
)

log = logging.getLogger(__name__)

# Ids one bulk call may name: a page of the web's listing is at most 200.
MAX_BULK_IDS = 1000
BULK_ACTIONS = ("read", "unread", "trash", "restore", "delete", "move", "star", "unstar")
# The flags PATCH takes, by their JSON names: read is \\Seen, the rest db.FLAG_NAMES.
PATCH_FLAGS = ("read", *db.FLAG_NAMES)
_FOLDER_ID = re.compile(db.FOLDER_ID)

_NAME = r"[a-z0-9][a-z0-9!#$&^_.+-]{0,126}"
_MEDIA_TYPE = re.compile(rf"{_NAME}/{_NAME}")


def folder_id(value: object) -> str:
    """A folder id as the API takes it (the folder may still not exist: 404 later)."""
    if not isinstance(value, str) or not _FOLDER_ID.fullmatch(value):
        raise InvalidRequest({"folder": "must be a folder id (inbox, sent, f12, ...)"})
    return value


async def list_folder(request: web.Request) -> web.Response:
    account = await account_of(request)
    folder = folder_id(request.query.get("folder", "inbox"))
    limit, after = limit_of(request), decode_cursor(request)
    pool = request.app[POOL]
    # An unknown id, or another account's, is 404 rather than an empty page.
    if not await db.folder_exists(pool, account_id=account["id"], folder_id=folder):
        raise FolderNotFound(folder)
    # Trash says when its entries go for ever (the maintenance task's purge).
    purge_days = request.app[CONFIG].trash_days if folder == "trash" else None
    if _flag(request, "conversations"):
        listing = await _conversations(pool, account["id"], folder, after, limit)
        return web.json_response({**listing, "purge_days": purge_days})
    rows = await db.list_folder(
        pool, account_id=account["id"], folder=folder, after=after, limit=limit + 1
    )
    position = await db.page_position(
        pool, account_id=account["id"], folder=folder, after=after, limit=limit
    )
    return web.json_response(
        {**page(rows, limit), **position_json(position), "purge_days": purge_days}
    )


def _flag(request: web.Request, name: str) -> bool:
    value = request.query.get(name, "false")
    if value not in ("true", "false"):
        raise InvalidRequest({name: "must be true or false"})
    return value == "true"


async def _conversations(
    pool: db.Pool, account_id: int, folder: str, after: tuple[datetime, int] | None, limit: int
) -> dict[str, Any]:
    """The folder one row per conversation: each its newest message's summary and
    ``conversation`` (messages, unread, flagged, senders in the folder)."""
    rows = await db.list_conversations(
        pool, account_id=account_id, folder=folder, after=after, limit=limit + 1
    )
    position = await db.conversation_position(
        pool, account_id=account_id, folder=folder, after=after, limit=limit
    )
    listing = page(rows, limit)
    for item, row in zip(listing["messages"], rows, strict=False):
        item["conversation"] = {
            "messages": row["conversation_messages"],
            "unread": bool(row["conversation_unread"]),
            "flagged": bool(row["conversation_flagged"]),
            "senders": row["senders"] or [item["from"]],
        }
    return {**listing, **position_json(position)}


async def get_conversation(request: web.Request) -> web.Response:
    """The conversation of a message, oldest first: its messages in the message's folder
    and in every other folder but Trash and Junk (at most the newest 200)."""
    account, entry = await account_of(request), entry_id(request)
    rows = await db.open_conversation(request.app[POOL], account_id=account["id"], entry_id=entry)
    if not rows:
        raise MessageNotFound(entry)
    return web.json_response({"messages": [summary_json(row) for row in rows]})


async def list_starred(request: web.Request) -> web.Response:
    account = await account_of(request)
    limit, after = limit_of(request), decode_cursor(request)
    pool = request.app[POOL]
    rows = await db.list_starred(pool, account_id=account["id"], after=after, limit=limit + 1)
    position = await db.page_position(
        pool, account_id=account["id"], folder=None, after=after, limit=limit
    )
    return web.json_response({**page(rows, limit), **position_json(position)})


def position_json(position: tuple[int, int, tuple[datetime, int] | None]) -> dict[str, Any]:
    """Where a folder's page stands: ``offset`` entries come before it (0: the first
    page); the page before it is ``prev_cursor``'s, or the first page when that is null."""
    total, offset, prev = position
    return {
        "total": total,
        "offset": offset,
        "prev_cursor": encode_cursor(*prev) if prev else None,
    }


async def search(request: web.Request) -> web.Response:
    account = await account_of(request)
    query = parse_search(request.query.get("q", ""))
    limit, after = limit_of(request), decode_cursor(request)
    rows = await db.search(
        request.app[POOL], account_id=account["id"], query=query, after=after, limit=limit + 1
    )
    return web.json_response(page(rows, limit))


async def get_message(request: web.Request) -> web.Response:
    account, entry = await account_of(request), entry_id(request)
    pool = request.app[POOL]
    row = await db.get_message(pool, account_id=account["id"], entry_id=entry)
    if row is None:
        raise MessageNotFound(entry)
    attachments = await db.list_attachments(pool, gateway_id=row["gateway_id"])
    return web.json_response(
        {
            **summary_json(row),
            "message_id_header": row["message_id_header"],
            "in_reply_to": row["in_reply_to"],
            "references": row["references_header"],
            "text": row["text_body"],
            "html": row["html_body"],
            "attachments": [
                {
                    "index": a["n"],
                    "filename": a["filename"],
                    "content_type": a["content_type"],
                    "size": a["size"],
                    "content_id": a["content_id"],
                    "disposition": a["disposition"],
                }
                for a in attachments
            ],
            "parse_error": row["parse_error"],
            "parse_defects": row["parse_defects"],
            "delivered_to": row["delivered_to"],
        }
    )


# A raw message is sent in slices of this many octets, each read by its own query: a
# 20 MiB message read whole took the mail store about three times its size per download
# (database buffer, bytes, transport buffer; docs/performance.md, "Large messages").
RAW_SLICE = 1024 * 1024


async def get_raw(request: web.Request) -> web.StreamResponse:
    account, entry = await account_of(request), entry_id(request)
    pool = request.app[POOL]
    found = await db.raw_size(pool, account_id=account["id"], entry_id=entry)
    if found is None:
        raise MessageNotFound(entry)
    response = web.StreamResponse()
    response.content_type = "message/rfc822"
    return await stream_raw(request, response, found["gateway_id"], 0, found["size"])


async def stream_raw(
    request: web.Request,
    response: web.StreamResponse,
    gateway_id: str,
    start: int,
    end: int,
    *,
    first: bytes = b"",
) -> web.StreamResponse:
    """Send octets ``start``..``end`` of a raw message, RAW_SLICE per query; ``first``
    is the caller's read of the first of them, sent as it is."""
    response.content_length = end - start
    await response.prepare(request)
    if first:
        await response.write(first)
    for offset in range(start + len(first), end, RAW_SLICE):
        chunk = await db.raw_slice(
            request.app[POOL],
            gateway_id=gateway_id,
            offset=offset,
            length=min(RAW_SLICE, end - offset),
        )
        if chunk is None:
            # Deleted forever meanwhile. The status is sent: closing the connection short
            # of Content-Length is how the client learns that the body is incomplete.
            log.warning("message %s was deleted while it was being sent", gateway_id)
            if request.transport is not None:
                request.transport.close()
            return response
        await response.write(chunk)
    await response.write_eof()
    return response


async def get_attachment(request: web.Request) -> web.Response:
    account, entry = await account_of(request), entry_id(request)
    n = int(request.match_info["n"])
    row = None
    if n <= MAX_INT4:
        row = await db.get_attachment(
            request.app[POOL], account_id=account["id"], entry_id=entry, n=n
        )
    if row is None:
        raise MessageNotFound(entry)
    response = web.Response(body=row["content"])
    # The type is the sender's claim; nosniff and "attachment" keep a browser from
    # rendering it as a page of ours if the web service passes it through.
    response.headers["Content-Type"] = _safe_content_type(row["content_type"])
    response.headers["X-Content-Type-Options"] = "nosniff"
    filename = quote(row["filename"] or f"attachment-{n}", safe="")
    response.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{filename}"
    return response


def _safe_content_type(value: str) -> str:
    # Only a well-formed type/subtype goes into a header (RFC 6838 §4.2 restricted names).
    return value if _MEDIA_TYPE.fullmatch(value) else "application/octet-stream"


async def update(request: web.Request) -> web.Response:
    """Set flags: any of PATCH_FLAGS, each true or false, at least one."""
    account, entry = await account_of(request), entry_id(request)
    body = await json_object(request)
    wanted = {name: body[name] for name in PATCH_FLAGS if name in body}
    if not wanted or not all(isinstance(value, bool) for value in wanted.values()):
        raise InvalidRequest({"read": f"one or more of {', '.join(PATCH_FLAGS)}: true or false"})
    pool = request.app[POOL]
    for name, value in wanted.items():
        if name == "read":
            outcome = await db.set_read(pool, account_id=account["id"], entry_id=entry, read=value)
        else:
            outcome = await db.set_flag_many(
                pool, account_id=account["id"], entry_ids=[entry], flag=name, value=value
            )
        if not outcome.matched:
            raise MessageNotFound(entry)
        await _announce(request, account, outcome)
    return await _summary(pool, account["id"], entry)


async def move(request: web.Request) -> web.Response:
    account, entry = await account_of(request), entry_id(request)
    target = folder_id((await json_object(request)).get("folder"))
    pool = request.app[POOL]
    outcome = await db.move_many(
        pool, account_id=account["id"], entry_ids=[entry], folder_id=target
    )
    if not outcome.matched:
        raise MessageNotFound(entry)
    await _announce(request, account, outcome)
    return await _summary(pool, account["id"], entry)


async def trash(request: web.Request) -> web.Response:
    account, entry = await account_of(request), entry_id(request)
    pool = request.app[POOL]
    outcome = await db.move_to_trash(pool, account_id=account["id"], entry_id=entry)
    if not outcome.matched:
        raise MessageNotFound(entry)
    await _announce(request, account, outcome)
    return await _summary(pool, account["id"], entry)


async def restore(request: web.Request) -> web.Response:
    account, entry = await account_of(request), entry_id(request)
    pool = request.app[POOL]
    outcome = await db.restore(pool, account_id=account["id"], entry_id=entry)
    if not outcome.matched:
        raise MessageNotFound(entry)
    await _announce(request, account, outcome)
    return await _summary(pool, account["id"], entry)


async def delete(request: web.Request) -> web.Response:
    account, entry = await account_of(request), entry_id(request)
    outcome = await db.delete_forever(request.app[POOL], account_id=account["id"], entry_id=entry)
    if not outcome.matched:
        raise MessageNotFound(entry)
    await _announce(request, account, outcome)
    return web.Response(status=204)


async def bulk(request: web.Request) -> web.Response:
    account = await account_of(request)
    body = await json_object(request)
    action, ids = _bulk_request(body)
    pool, account_id = request.app[POOL], account["id"]
    conversations = body.get("conversations", False)
    if not isinstance(conversations, bool):
        raise InvalidRequest({"conversations": "must be true or false"})
    if conversations:
        # Conversation rows: every message of their conversations in their folders.
        ids = await db.expand_conversations(pool, account_id=account_id, entry_ids=ids)
    # An id of another account, or of nothing, is skipped without a word: the answer must
    # not tell which ids exist.
    if action in ("read", "unread"):
        outcome = await db.set_read_many(
            pool, account_id=account_id, entry_ids=ids, read=action == "read"
        )
    elif action == "trash":
        outcome = await db.move_many_to_trash(pool, account_id=account_id, entry_ids=ids)
    elif action == "restore":
        outcome = await db.restore_many(pool, account_id=account_id, entry_ids=ids)
    elif action == "move":
        target = folder_id(body.get("folder"))
        outcome = await db.move_many(pool, account_id=account_id, entry_ids=ids, folder_id=target)
    elif action in ("star", "unstar"):
        outcome = await db.set_flag_many(
            pool, account_id=account_id, entry_ids=ids, flag="flagged", value=action == "star"
        )
    else:
        outcome = await db.delete_many_forever(pool, account_id=account_id, entry_ids=ids)
    await _announce(request, account, outcome)
    # The ids, not only their count: the web's Undo of a Delete restores those moved,
    # never those that were in Trash already.
    return web.json_response({"changed": outcome.changed, "ids": outcome.changed_ids})


def _bulk_request(body: dict[str, Any]) -> tuple[str, list[int]]:
    fields: dict[str, str] = {}
    action, ids = body.get("action"), body.get("ids")
    if action not in BULK_ACTIONS:
        fields["action"] = f"must be one of {', '.join(BULK_ACTIONS)}"
    if (
        not isinstance(ids, list)
        or len(ids) > MAX_BULK_IDS
        or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids)
    ):
        fields["ids"] = f"must be a list of at most {MAX_BULK_IDS} message ids (integers)"
    if fields:
        raise InvalidRequest(fields)
    assert isinstance(action, str)
    assert isinstance(ids, list)
    # Beyond bigint an id names nothing (and asyncpg could not send it).
    return action, sorted({i for i in ids if 0 <= i <= MAX_ID})


async def empty_trash(request: web.Request) -> web.Response:
    account = await account_of(request)
    outcome = await db.empty_trash(request.app[POOL], account_id=account["id"])
    await _announce(request, account, outcome)
    return web.json_response({"deleted": outcome.matched})


async def _announce(request: web.Request, account: db.Record, outcome: db.Outcome) -> None:
    """The ``changed`` event of a committed change (mailstore.events)."""
    await request.app[EVENTS].changed(outcome.changes, {account["id"]: account["address"]})


async def _summary(pool: db.Pool, account_id: int, entry: int) -> web.Response:
    row = await db.get_summary(pool, account_id=account_id, entry_id=entry)
    if row is None:  # deleted between the update and this read
        raise MessageNotFound(entry)
    return web.json_response(summary_json(row))
