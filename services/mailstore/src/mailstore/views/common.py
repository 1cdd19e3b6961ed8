"""What the API's handlers share: path and query parsing, cursors, JSON shapes."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any

from aiohttp import web

from mailstore import db
from mailstore.errors import AccountNotFound, InvalidRequest, MessageNotFound
from mailstore.keys import POOL

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
# bigint: a larger id cannot exist, and asyncpg would refuse to send it.
MAX_ID = 2**63 - 1
MAX_INT4 = 2**31 - 1
MAX_BODY_BYTES = 64 * 1024


async def account_of(request: web.Request) -> db.Record:
    """The account named by the path's ``{address}``; AccountNotFound when there is none."""
    return await find_account(request, request.match_info["address"])


async def find_account(request: web.Request, address: str) -> db.Record:
    """The account at ``address``, in any case; AccountNotFound when there is none."""
    address = address.lower()
    # PostgreSQL text cannot hold NUL or a lone surrogate, so no account has one; asking
    # would raise.
    account = (
        await db.get_account(request.app[POOL], address=address) if db.storable(address) else None
    )
    if account is None:
        raise AccountNotFound(address)
    return account


def entry_id(request: web.Request) -> int:
    # The route admits digits only; a number beyond bigint names no message.
    value = int(request.match_info["id"])
    if value > MAX_ID:
        raise MessageNotFound(value)
    return value


def limit_of(request: web.Request, default: int = DEFAULT_LIMIT) -> int:
    raw = request.query.get("limit", str(default))
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise InvalidRequest({"limit": f"must be a whole number 1-{MAX_LIMIT}"})
    return int(raw)


def encode_cursor(created_at: datetime, entry: int) -> str:
    token = f"{created_at.isoformat()}|{entry}".encode()
    return base64.urlsafe_b64encode(token).decode().rstrip("=")


def decode_cursor(request: web.Request) -> tuple[datetime, int] | None:
    """The keyset position of ``?cursor=``: opaque to clients, (created_at, id) to us."""
    raw = request.query.get("cursor")
    if not raw:
        return None
    try:
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
        created, _, entry = text.partition("|")
        position = datetime.fromisoformat(created), int(entry)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidRequest({"cursor": "is not a cursor this API returned"}) from None
    if position[0].tzinfo is None:
        raise InvalidRequest({"cursor": "is not a cursor this API returned"})
    return position


def page(rows: list[db.Record], limit: int) -> dict[str, Any]:
    """The listing shape; the caller fetched ``limit + 1`` rows to learn whether more exist."""
    shown = rows[:limit]
    more = len(rows) > limit
    last = shown[-1] if shown else None
    cursor = encode_cursor(last["created_at"], last["id"]) if more and last else None
    return {"messages": [summary_json(row) for row in shown], "next_cursor": cursor}


def summary_json(row: db.Record) -> dict[str, Any]:
    return {
        "id": row["id"],
        "folder": row["folder_id"],
        "read": row["seen"],
        "from": {"name": row["from_name"], "address": row["from_address"]},
        "to": row["to_addrs"],
        "cc": row["cc_addrs"],
        "subject": row["subject"],
        "preview": row["preview"],
        "date": _iso(row["date"]),
        "received_at": _iso(row["created_at"]),
        "has_attachments": row["has_attachments"],
        "size": row["size"],
        "sender_check": row["sender_check"],
        "sender_claimed": row["sender_claimed"],
        # IMAP's flags as the web shows them (migration 0009).
        "flagged": row["flagged"],
        "answered": row["answered"],
        "forwarded": db.FORWARDED in row["keywords"],
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def records_json(rows: list[db.Record]) -> list[dict[str, Any]]:
    """Rows as JSON objects named by their columns, times in ISO 8601 (None stays null)."""
    return [
        {key: _iso(value) if isinstance(value, datetime) else value for key, value in row.items()}
        for row in rows
    ]


async def json_object(request: web.Request) -> dict[str, Any]:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise InvalidRequest({"body": f"larger than {MAX_BODY_BYTES} bytes"})
    try:
        body = json.loads(await request.read())
    except (ValueError, UnicodeDecodeError):
        raise InvalidRequest({"body": "is not JSON"}) from None
    if not isinstance(body, dict):
        raise InvalidRequest({"body": "must be a JSON object"})
    for name, value in body.items():
        if not (db.storable(name) and (name in _NOT_STORED or _storable_json(value))):
            raise InvalidRequest({name if db.storable(name) else "body": db.UNSTORABLE})
    return body


# Body fields whose handlers take any text: a password is hashed, never stored (a NUL
# in it must count, not be refused); an address is validated before it is stored, and
# one the database cannot hold names no account (find_account, verify).
_NOT_STORED = frozenset({"password", "address"})


def _storable_json(value: object) -> bool:
    if isinstance(value, str):
        return db.storable(value)
    if isinstance(value, list):
        return all(_storable_json(item) for item in value)
    if isinstance(value, dict):
        return all(db.storable(k) and _storable_json(v) for k, v in value.items())
    return True
