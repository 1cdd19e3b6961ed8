"""Accounts: create, verify credentials, mailbox lookup, directory, folder counts."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from aiohttp import web

from mailstore import db
from mailstore.errors import InvalidRequest
from mailstore.keys import CONFIG, HASHER, POOL
from mailstore.views.common import account_of, find_account, json_object, limit_of

# RFC 5321 §4.1.2 Dot-string; quoted local parts are legal but not offered for new accounts.
_LOCAL_PART = re.compile(r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
MAX_LOCAL_PART = 64  # RFC 5321 §4.5.3.1.1
MAX_NAME = 200
MIN_PASSWORD = 8
MAX_PASSWORD = 1024
DIRECTORY_LIMIT = 10


def _address_problem(address: str, domains: tuple[str, ...]) -> str | None:
    local, at, domain = address.rpartition("@")
    if not at or not _LOCAL_PART.fullmatch(local) or len(local) > MAX_LOCAL_PART:
        return "must be local-part@domain with a plain (dot-atom) local part"
    if domain not in domains:
        return f"must be in a local domain ({', '.join(domains)})"
    return None


def _validated_account(body: dict[str, Any], domains: tuple[str, ...]) -> tuple[str, str, str]:
    fields: dict[str, str] = {}
    address, name, password = body.get("address"), body.get("name", ""), body.get("password")
    if not isinstance(address, str):
        fields["address"] = "is required (a string)"
    elif problem := _address_problem(address.lower(), domains):
        fields["address"] = problem
    if not isinstance(name, str) or len(name) > MAX_NAME:
        fields["name"] = f"must be a string of at most {MAX_NAME} characters"
    elif any(unicodedata.category(ch) == "Cc" for ch in name):
        fields["name"] = "may not hold control characters"
    if not isinstance(password, str) or not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        fields["password"] = f"must be a string of {MIN_PASSWORD}-{MAX_PASSWORD} characters"
    if fields:
        raise InvalidRequest(fields)
    assert isinstance(address, str)
    assert isinstance(name, str)
    assert isinstance(password, str)
    return address.lower(), name.strip(), password


async def create_account(request: web.Request) -> web.Response:
    body = await json_object(request)
    address, name, password = _validated_account(body, request.app[CONFIG].domains)
    password_hash = await request.app[HASHER].hash(password)
    row = await db.create_account(
        request.app[POOL], address=address, name=name, password_hash=password_hash
    )
    account = {"address": row["address"], "name": row["name"]}
    return web.json_response({**account, "created_at": row["created_at"].isoformat()}, status=201)


async def verify(request: web.Request) -> web.Response:
    body = await json_object(request)
    address, password = body.get("address"), body.get("password")
    if not isinstance(address, str) or not isinstance(password, str):
        raise InvalidRequest({"address": "is required", "password": "is required"})
    account = None
    if len(password) <= MAX_PASSWORD and db.storable(address):
        account = await db.get_account(request.app[POOL], address=address.lower())
    # verify() burns one bcrypt whether or not the account exists.
    password_hash = account["password_hash"] if account else None
    if not await request.app[HASHER].verify(password[:MAX_PASSWORD], password_hash):
        return web.json_response({"error": "invalid credentials"}, status=401)
    assert account is not None
    await db.record_login(request.app[POOL], account_id=account["id"])
    return web.json_response({"address": account["address"], "name": account["name"]})


async def mailbox(request: web.Request) -> web.Response:
    account = await find_account(request, request.match_info["address"])
    return web.json_response({"address": account["address"], "name": account["name"]})


async def directory(request: web.Request) -> web.Response:
    prefix = request.query.get("prefix", "")
    limit = limit_of(request, DIRECTORY_LIMIT)
    rows = await db.directory(request.app[POOL], prefix=prefix, limit=limit)
    accounts = [{"address": row["address"], "name": row["name"]} for row in rows]
    return web.json_response({"accounts": accounts})


async def folders(request: web.Request) -> web.Response:
    account = await account_of(request)
    pool = request.app[POOL]
    counts = request.query.get("counts", "all")
    if counts == "unread":
        # The web shows unread counts on every page; totals cost a scan of the folder.
        rows = await db.unread_counts(pool, account_id=account["id"])
        return web.json_response(
            {"folders": [{"name": r["folder"], "unread": r["unread"]} for r in rows]}
        )
    if counts != "all":
        raise InvalidRequest({"counts": "must be all or unread"})
    rows = await db.folder_counts(pool, account_id=account["id"])
    folders = [{"name": r["folder"], "total": r["total"], "unread": r["unread"]} for r in rows]
    return web.json_response({"folders": folders})
