"""An account's settings that the web uses: name, signature, time zone, conversations
(issue 15)."""

from __future__ import annotations

import unicodedata
import zoneinfo
from functools import cache
from typing import Any

from aiohttp import web

from mailstore import db
from mailstore.errors import InvalidRequest
from mailstore.keys import POOL
from mailstore.views.accounts import MAX_NAME
from mailstore.views.common import account_of, json_object

MAX_SIGNATURE = 2000
# A signature is lines of text: line breaks and tabs, no other control character.
_SIGNATURE_CONTROLS_ALLOWED = frozenset("\n\t")


@cache
def time_zones() -> frozenset[str]:
    """IANA names the server's zoneinfo knows ("" stands for the browser's own)."""
    return frozenset(zoneinfo.available_timezones())


def _profile(row: db.Record) -> dict[str, Any]:
    return {
        "name": row["name"],
        "signature": row["signature"],
        "time_zone": row["time_zone"],
        "conversations": row["conversations"],
    }


def _checked(body: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    """``current`` with the body's fields applied; InvalidRequest naming each bad one."""
    fields: dict[str, str] = {}
    new = {**current, **{k: body[k] for k in current if k in body}}
    name, signature, zone = new["name"], new["signature"], new["time_zone"]
    if not isinstance(name, str) or len(name) > MAX_NAME:
        fields["name"] = f"must be a string of at most {MAX_NAME} characters"
    elif any(unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp") for ch in name):
        fields["name"] = "may not hold control characters"
    if not isinstance(signature, str) or len(signature) > MAX_SIGNATURE:
        fields["signature"] = f"must be a string of at most {MAX_SIGNATURE} characters"
    elif any(
        unicodedata.category(ch) in ("Cc", "Cs") and ch not in _SIGNATURE_CONTROLS_ALLOWED
        for ch in signature
    ):
        fields["signature"] = "may hold line breaks and tabs, no other control characters"
    if not isinstance(zone, str) or (zone and zone not in time_zones()):
        fields["time_zone"] = "must be an IANA time zone name, or empty"
    if not isinstance(new["conversations"], bool):
        fields["conversations"] = "must be true or false"
    if fields:
        raise InvalidRequest(fields)
    return {
        "name": name.strip(),
        "signature": signature,
        "time_zone": zone,
        "conversations": new["conversations"],
    }


async def get_profile(request: web.Request) -> web.Response:
    account = await account_of(request)
    row = await db.get_profile(request.app[POOL], account_id=account["id"])
    return web.json_response(_profile(row))


async def update_profile(request: web.Request) -> web.Response:
    """Change any of name, signature, time_zone, conversations; the others stay."""
    account = await account_of(request)
    body = await json_object(request)
    pool = request.app[POOL]
    current = _profile(await db.get_profile(pool, account_id=account["id"]))
    new = _checked(body, current)
    row = await db.update_profile(pool, account_id=account["id"], **new)
    return web.json_response(_profile(row))
