"""One-time password-reset links, as the web's reset page uses them (admin.py issues them).

The path holds the link's secret: it is looked up by its SHA-256 (an index lookup on a
hash, so its timing says nothing about how much of a guess was right), and logged as the
route's pattern only (routes.SECRET_ROUTES).
"""

from __future__ import annotations

from aiohttp import web

from mailstore import db
from mailstore.errors import InvalidRequest, ResetNotFound
from mailstore.keys import HASHER, POOL
from mailstore.passwords import MAX_PASSWORD
from mailstore.views.accounts import MIN_PASSWORD
from mailstore.views.common import json_object
from mailstore.views.sessions import MAX_SECRET_LENGTH, secret_hash


async def _live_reset(request: web.Request) -> tuple[bytes, db.Record]:
    token = request.match_info["token"]
    row = None
    if len(token) <= MAX_SECRET_LENGTH and db.storable(token):
        token_hash = secret_hash(token)
        row = await db.reset_owner(request.app[POOL], token_hash=token_hash)
    if row is None:
        raise ResetNotFound()
    return token_hash, row


async def get_reset(request: web.Request) -> web.Response:
    """Whom a live link is for (the page shows the address); 404 if unknown, used or
    expired, one answer for the three."""
    _, row = await _live_reset(request)
    return web.json_response(
        {
            "address": row["address"],
            "name": row["name"],
            "expires_at": row["expires_at"].isoformat(),
        }
    )


async def use_reset(request: web.Request) -> web.Response:
    """Set the password through a live link and consume it; every session of the account
    ends, its API tokens too when ``revoke_tokens``."""
    body = await json_object(request)
    new, revoke = body.get("new_password"), body.get("revoke_tokens", False)
    fields = {}
    if not isinstance(new, str) or not MIN_PASSWORD <= len(new) <= MAX_PASSWORD:
        fields["new_password"] = f"must be a string of {MIN_PASSWORD}-{MAX_PASSWORD} characters"
    if not isinstance(revoke, bool):
        fields["revoke_tokens"] = "must be true or false"
    if fields:
        raise InvalidRequest(fields)
    assert isinstance(new, str)
    # A dead link costs no bcrypt; one that dies while hashing is caught by use_reset.
    token_hash, _ = await _live_reset(request)
    password_hash = await request.app[HASHER].hash(new)
    row = await db.use_reset(
        request.app[POOL], token_hash=token_hash, password_hash=password_hash, revoke_tokens=revoke
    )
    if row is None:
        raise ResetNotFound()
    return web.json_response({"address": row["address"], "name": row["name"]})
