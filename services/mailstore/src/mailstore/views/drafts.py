"""The web's drafts (db.drafts): save one into Drafts, replacing the previous save; delete
one that was sent.

A save is multipart/form-data like APPEND (views.imap_append): a ``meta`` part, JSON
``{"replaces": <the draft's entry id, or null>}``, then one ``message`` part with the
raw octets the web built.
"""

from __future__ import annotations

import asyncio
import json

from aiohttp import web

from mailstore.db import drafts
from mailstore.db.imap_append import Appended
from mailstore.errors import InvalidRequest
from mailstore.keys import CONFIG, POOL
from mailstore.parsing import parse_message
from mailstore.views.common import MAX_ID, account_of, entry_id
from mailstore.views.imap import _announce
from mailstore.views.imap_append import (
    MAX_APPEND_BYTES,
    MAX_META_BYTES,
    PARSE_IN_THREAD_BYTES,
    _part,
    multipart,
)

# So that mail programs list it as a draft, not as unread mail (RFC 9051 §2.3.2).
DRAFT_FLAGS = frozenset({"\\Draft", "\\Seen"})


async def save(request: web.Request) -> web.Response:
    account = await account_of(request)
    reader = await multipart(request)
    replaces = _replaces(await _part(reader, "meta", MAX_META_BYTES))
    raw = await _part(reader, "message", MAX_APPEND_BYTES, too_big=True)
    if len(raw) > PARSE_IN_THREAD_BYTES:
        parsed = await asyncio.to_thread(parse_message, raw)
    else:
        parsed = parse_message(raw)
    message = Appended(raw, parsed, DRAFT_FLAGS, frozenset(), None)
    changes = await drafts.save_draft(
        request.app[POOL],
        account_id=account["id"],
        message=message,
        replaces=replaces,
        default_quota=request.app[CONFIG].default_quota,
    )
    await _announce(request, account, changes)
    return web.json_response({"id": changes[0].entry_id}, status=201)


async def delete(request: web.Request) -> web.Response:
    account, entry = await account_of(request), entry_id(request)
    outcome = await drafts.delete_draft(request.app[POOL], account_id=account["id"], entry_id=entry)
    await _announce(request, account, outcome.changes)
    return web.Response(status=204)


def _replaces(meta: bytes) -> int | None:
    try:
        described = json.loads(meta)
    except (ValueError, UnicodeDecodeError):
        raise InvalidRequest({"meta": "is not JSON"}) from None
    value = described.get("replaces") if isinstance(described, dict) else False
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= MAX_ID:
        raise InvalidRequest({"replaces": "must be a draft's message id or null"})
    return value
