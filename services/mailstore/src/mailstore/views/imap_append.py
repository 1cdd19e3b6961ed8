"""APPEND (RFC 9051 §6.3.12) and MULTIAPPEND (RFC 3502): multipart/form-data.

The first part, ``meta``, is JSON ``{"folder", "messages": [{"flags", "internal_date"}]}``;
then one ``message`` part per entry of ``messages``, in order, holding the raw octets.
The parts are read one by one with a limit per message, never the body whole.
"""

from __future__ import annotations

import asyncio
import json

from aiohttp import BodyPartReader, MultipartReader, web

from mailstore.db import imap_append
from mailstore.errors import InvalidRequest, MessageTooBig
from mailstore.keys import CONFIG, POOL
from mailstore.parsing import parse_message
from mailstore.views.common import account_of
from mailstore.views.imap import _announce, folder_name, internal_date, split_flags

# APPENDLIMIT (RFC 7889): the largest message an APPEND may hold.
MAX_APPEND_BYTES = 50 * 1024 * 1024
# Messages one MULTIAPPEND may hold.
MAX_APPEND_MESSAGES = 100
MAX_META_BYTES = 64 * 1024
# Parsed in a thread above this size, as the consumer does.
PARSE_IN_THREAD_BYTES = 256 * 1024


async def append(request: web.Request) -> web.Response:
    account = await account_of(request)
    reader = await multipart(request)
    meta = await _part(reader, "meta", MAX_META_BYTES)
    try:
        described = json.loads(meta)
    except (ValueError, UnicodeDecodeError):
        raise InvalidRequest({"meta": "is not JSON"}) from None
    if not isinstance(described, dict):
        raise InvalidRequest({"meta": "must be a JSON object"})
    name = folder_name(described.get("folder"), "folder")
    items = described.get("messages")
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_APPEND_MESSAGES:
        raise InvalidRequest({"messages": f"must list 1-{MAX_APPEND_MESSAGES} messages"})
    messages = []
    for item in items:
        if not isinstance(item, dict):
            raise InvalidRequest({"messages": "each must be an object"})
        flags, keywords = split_flags(item.get("flags", []))
        when = internal_date(item.get("internal_date"))
        raw = await _part(reader, "message", MAX_APPEND_BYTES, too_big=True)
        if len(raw) > PARSE_IN_THREAD_BYTES:
            parsed = await asyncio.to_thread(parse_message, raw)
        else:
            parsed = parse_message(raw)
        messages.append(
            imap_append.Appended(raw, parsed, frozenset(flags), frozenset(keywords), when)
        )
    outcome = await imap_append.append(
        request.app[POOL],
        account_id=account["id"],
        address=account["address"],
        name=name,
        messages=messages,
        default_quota=request.app[CONFIG].default_quota,
    )
    await _announce(request, account, outcome.changes)
    return web.json_response({"uidvalidity": outcome.uidvalidity, "uids": outcome.uids})


async def multipart(request: web.Request) -> MultipartReader:
    """The reader of a multipart body: a meta part, then message parts."""
    if not request.content_type.startswith("multipart/"):
        raise InvalidRequest({"body": "must be multipart/form-data: meta, then message parts"})
    try:
        return await request.multipart()
    except (AssertionError, ValueError, KeyError):
        raise InvalidRequest({"body": "is not multipart"}) from None


async def _part(reader: object, name: str, limit: int, *, too_big: bool = False) -> bytes:
    try:
        part = await reader.next()  # type: ignore[attr-defined]
    except (ValueError, AssertionError, RuntimeError):
        raise InvalidRequest({"body": "is not well-formed multipart"}) from None
    if not isinstance(part, BodyPartReader) or part.name != name:
        raise InvalidRequest({"body": f"expected a {name!r} part"})
    data = bytearray()
    try:
        while chunk := await part.read_chunk():
            data += chunk
            if len(data) > limit:
                if too_big:
                    raise MessageTooBig(limit)
                raise InvalidRequest({name: f"larger than {limit} octets"})
    except (ValueError, AssertionError):
        raise InvalidRequest({"body": "is not well-formed multipart"}) from None
    return bytes(data)
