"""Web sessions and personal API tokens, for the web service (which keeps no state).

Secrets are ``secrets.token_urlsafe(32)``, made here and shown once; the database holds
only their SHA-256. The secret-carrying paths are redacted from logs (``middlewares.py``).
"""

from __future__ import annotations

import hashlib
import secrets
import unicodedata

from aiohttp import web

from mailstore import db
from mailstore.errors import InvalidRequest, SessionNotFound, TokenNotFound
from mailstore.keys import CONFIG, POOL
from mailstore.views.common import MAX_ID, account_of, find_account, json_object, records_json

SECRET_BYTES = 32
# Marks a Localpost token, so that secret scanners and people can tell what leaked.
TOKEN_PREFIX = "lp_"  # noqa: S105 - a prefix, not a secret
MAX_TOKEN_NAME = 100
# token_urlsafe(32) is 43 characters; anything much longer is not ours and is not hashed.
MAX_SECRET_LENGTH = 100
# The web's summary of a User-Agent ("Firefox on Linux"), shown in the sessions list.
MAX_DEVICE = 100


def secret_hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


async def create_session(request: web.Request) -> web.Response:
    body = await json_object(request)
    address, device = body.get("address"), body.get("device", "")
    if not isinstance(address, str):
        raise InvalidRequest({"address": "is required (a string)"})
    if not isinstance(device, str) or len(device) > MAX_DEVICE or not device.isprintable():
        raise InvalidRequest({"device": f"must be printable, at most {MAX_DEVICE} characters"})
    pool = request.app[POOL]
    account = await find_account(request, address)
    secret = secrets.token_urlsafe(SECRET_BYTES)
    expires_at = await db.create_session(
        pool,
        account_id=account["id"],
        secret_hash=secret_hash(secret),
        days=request.app[CONFIG].session_days,
        device=device,
    )
    return web.json_response({"session": secret, "expires_at": expires_at.isoformat()}, status=201)


async def get_session(request: web.Request) -> web.Response:
    secret = request.match_info["secret"]
    row = None
    if len(secret) <= MAX_SECRET_LENGTH:
        row = await db.use_session(
            request.app[POOL],
            secret_hash=secret_hash(secret),
            days=request.app[CONFIG].session_days,
        )
    if row is None:
        raise SessionNotFound()
    return web.json_response(
        {
            "address": row["address"],
            "name": row["name"],
            "expires_at": row["expires_at"].isoformat(),
            "id": row["id"],
            # The web dates its pages in it (settings); '' is the browser's own.
            "time_zone": row["time_zone"],
            # The web lists folders by conversation unless this is false (settings).
            "conversations": row["conversations"],
            # Read from the account at every request, never kept in the web's cookie: a
            # revoked administrator's next page is an ordinary user's (issue 16).
            "is_admin": row["is_admin"],
        }
    )


async def end_session(request: web.Request) -> web.Response:
    # 204 for an unknown session too: logging out twice is not an error.
    secret = request.match_info["secret"]
    if len(secret) <= MAX_SECRET_LENGTH:
        await db.end_session(request.app[POOL], secret_hash=secret_hash(secret))
    return web.Response(status=204)


async def end_sessions_of(request: web.Request) -> web.Response:
    """Every session of the account ends, or with ``?except=<id>`` every other one."""
    account = await account_of(request)
    pool = request.app[POOL]
    keep = request.query.get("except")
    if keep is None:
        await db.end_sessions_of(pool, account_id=account["id"])
    elif keep.isascii() and keep.isdigit() and int(keep) <= MAX_ID:
        await db.end_other_sessions(pool, account_id=account["id"], keep=int(keep))
    else:
        raise InvalidRequest({"except": "must be a session id"})
    return web.Response(status=204)


async def list_sessions(request: web.Request) -> web.Response:
    account = await account_of(request)
    rows = await db.list_sessions(request.app[POOL], account_id=account["id"])
    # The columns db.list_sessions selects: id, device, created_at, last_used_at.
    return web.json_response({"sessions": records_json(rows)})


async def end_session_by_id(request: web.Request) -> web.Response:
    account = await account_of(request)
    session_id = int(request.match_info["id"])  # the route admits digits only
    if session_id > MAX_ID or not await db.end_session_by_id(
        request.app[POOL], account_id=account["id"], session_id=session_id
    ):
        raise SessionNotFound()
    return web.Response(status=204)


# -- API tokens ------------------------------------------------------------------------------


def _token_name(body: dict[str, object]) -> str:
    name = body.get("name")
    if not isinstance(name, str) or not 1 <= len(name.strip()) <= MAX_TOKEN_NAME:
        raise InvalidRequest({"name": f"must be a string of 1-{MAX_TOKEN_NAME} characters"})
    if any(unicodedata.category(ch) == "Cc" for ch in name):
        raise InvalidRequest({"name": "may not hold control characters"})
    return name.strip()


async def create_token(request: web.Request) -> web.Response:
    account = await account_of(request)
    name = _token_name(await json_object(request))
    token = TOKEN_PREFIX + secrets.token_urlsafe(SECRET_BYTES)
    row = await db.create_token(
        request.app[POOL], account_id=account["id"], name=name, token_hash=secret_hash(token)
    )
    created = {"id": row["id"], "token": token, "name": row["name"]}
    return web.json_response({**created, "created_at": row["created_at"].isoformat()}, status=201)


async def list_tokens(request: web.Request) -> web.Response:
    account = await account_of(request)
    rows = await db.list_tokens(request.app[POOL], account_id=account["id"])
    # The columns db.list_tokens selects: id, name, created_at, last_used_at (or null).
    return web.json_response({"tokens": records_json(rows)})


async def revoke_token(request: web.Request) -> web.Response:
    account = await account_of(request)
    token_id = int(request.match_info["id"])  # the route admits digits only
    if token_id > MAX_ID or not await db.revoke_token(
        request.app[POOL], account_id=account["id"], token_id=token_id
    ):
        raise TokenNotFound(token_id)
    return web.Response(status=204)


async def token_owner(request: web.Request) -> web.Response:
    token = request.match_info["token"]
    row = None
    if token.startswith(TOKEN_PREFIX) and len(token) <= MAX_SECRET_LENGTH:
        row = await db.use_token(request.app[POOL], token_hash=secret_hash(token))
    if row is None:
        raise TokenNotFound()
    # is_admin as of this request: an administrator's token reaches /api/v1/admin/.
    owner = {"address": row["address"], "name": row["name"], "is_admin": row["is_admin"]}
    return web.json_response(owner)
