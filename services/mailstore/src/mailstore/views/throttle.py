"""Rate-limit counters for the web service (sign-ups): a sliding window of events per key,
optionally per client. Logins have their own throttle inside /v1/auth/verify (logins.py)."""

from __future__ import annotations

import unicodedata
from typing import Any

from aiohttp import web

from mailstore import db, logins
from mailstore.errors import InvalidRequest
from mailstore.keys import CONFIG, POOL
from mailstore.views.common import json_object

MAX_KEY = 200
MAX_LIMIT = 100_000


def _key_problem(key: object) -> str | None:
    if not isinstance(key, str) or not 1 <= len(key) <= MAX_KEY:
        return f"must be a string of 1-{MAX_KEY} characters"
    # PostgreSQL text cannot hold NUL; the other control characters go with it.
    if any(unicodedata.category(ch) == "Cc" for ch in key):
        return "may not hold control characters"
    return None


def _whole(value: Any, maximum: int) -> bool:
    # bool is an int in Python, but true is not a limit.
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= maximum


async def hit(request: web.Request) -> web.Response:
    body = await json_object(request)
    key, limit, window = body.get("key"), body.get("limit"), body.get("window")
    client = body.get("client")
    fields: dict[str, str] = {}
    if client is not None and not logins.client_ok(client):
        fields["client"] = f"must be the client's IP address (1-{logins.MAX_CLIENT} characters)"
    elif isinstance(client, str) and isinstance(key, str):
        # Counted per client: an IPv4 address, an IPv6 /64 (logins.client_key).
        key = f"{key}:{logins.client_key(client)}"
    if problem := _key_problem(key):
        fields["key"] = problem
    if not _whole(limit, MAX_LIMIT):
        fields["limit"] = f"must be a whole number 1-{MAX_LIMIT}"
    if not _whole(window, db.MAX_WINDOW_SECONDS):
        fields["window"] = f"must be a whole number of seconds 1-{db.MAX_WINDOW_SECONDS}"
    if fields:
        raise InvalidRequest(fields)
    assert isinstance(key, str)
    assert isinstance(limit, int)
    assert isinstance(window, int)
    if isinstance(client, str) and logins.in_trusted_network(client, request.app[CONFIG]):
        # A trusted network is many people behind one address (issue 15): not counted.
        return web.json_response({"allowed": True, "count": 0, "retry_after": 0})
    result = await db.hit(request.app[POOL], key=key, limit=limit, window=window)
    return web.json_response(
        {"allowed": result.allowed, "count": result.count, "retry_after": result.retry_after}
    )


async def forget(request: web.Request) -> web.Response:
    key = request.match_info["key"]
    if problem := _key_problem(key):
        raise InvalidRequest({"key": problem})
    await db.forget(request.app[POOL], key=key)
    return web.Response(status=204)
