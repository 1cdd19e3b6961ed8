"""One account's messages: listings, search, reading, flags, Trash, deletion."""

from __future__ import annotations

import re
from urllib.parse import quote

from aiohttp import web

from mailstore import db
from mailstore.errors import InvalidRequest, MessageNotFound
from mailstore.keys import POOL
from mailstore.search import parse_search
from mailstore.views.common import (
    MAX_INT4,
    account_of,
    decode_cursor,
    entry_id,
    json_object,
    limit_of,
    page,
    summary_json,
)

_NAME = r"[a-z0-9][a-z0-9!#$&^_.+-]{0,126}"
_MEDIA_TYPE = re.compile(rf"{_NAME}/{_NAME}")


async def list_folder(request: web.Request) -> web.Response:
    account = await account_of(request)
    folder = request.query.get("folder", "inbox")
    if folder not in db.FOLDERS:
        raise InvalidRequest({"folder": f"must be one of {', '.join(db.FOLDERS)}"})
    limit, after = limit_of(request), decode_cursor(request)
    rows = await db.list_folder(
        request.app[POOL], account_id=account["id"], folder=folder, after=after, limit=limit + 1
    )
    return web.json_response(page(rows, limit))


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
        }
    )


async def get_raw(request: web.Request) -> web.Response:
    account, entry = await account_of(request), entry_id(request)
    raw = await db.get_raw(request.app[POOL], account_id=account["id"], entry_id=entry)
    if raw is None:
        raise MessageNotFound(entry)
    return web.Response(body=raw, content_type="message/rfc822")


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
    account, entry = await account_of(request), entry_id(request)
    body = await json_object(request)
    read = body.get("read")
    if not isinstance(read, bool):
        raise InvalidRequest({"read": "is required (true or false)"})
    pool = request.app[POOL]
    if not await db.set_read(pool, account_id=account["id"], entry_id=entry, read=read):
        raise MessageNotFound(entry)
    return await _summary(pool, account["id"], entry)


async def trash(request: web.Request) -> web.Response:
    account, entry = await account_of(request), entry_id(request)
    pool = request.app[POOL]
    if not await db.move_to_trash(pool, account_id=account["id"], entry_id=entry):
        raise MessageNotFound(entry)
    return await _summary(pool, account["id"], entry)


async def restore(request: web.Request) -> web.Response:
    account, entry = await account_of(request), entry_id(request)
    pool = request.app[POOL]
    if not await db.restore(pool, account_id=account["id"], entry_id=entry):
        raise MessageNotFound(entry)
    return await _summary(pool, account["id"], entry)


async def delete(request: web.Request) -> web.Response:
    account, entry = await account_of(request), entry_id(request)
    if not await db.delete_forever(request.app[POOL], account_id=account["id"], entry_id=entry):
        raise MessageNotFound(entry)
    return web.Response(status=204)


async def _summary(pool: db.Pool, account_id: int, entry: int) -> web.Response:
    row = await db.get_summary(pool, account_id=account_id, entry_id=entry)
    if row is None:  # deleted between the update and this read
        raise MessageNotFound(entry)
    return web.json_response(summary_json(row))
