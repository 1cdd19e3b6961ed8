"""Accounts: create, verify credentials, mailbox lookup, directory, folder counts."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from aiohttp import web

from mailstore import db, logins
from mailstore.errors import InvalidRequest, LoginThrottled
from mailstore.keys import CONFIG, EVENTS, HASHER, METRICS, POOL
from mailstore.passwords import MAX_PASSWORD
from mailstore.recipients import DELIMITER
from mailstore.views import quotas
from mailstore.views.common import MAX_ID, account_of, find_account, json_object, limit_of
from mailstore.views.sessions import MAX_SECRET_LENGTH, secret_hash

# RFC 5321 §4.1.2 Dot-string; quoted local parts are legal but not offered for new accounts.
_LOCAL_PART = re.compile(r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
MAX_LOCAL_PART = 64  # RFC 5321 §4.5.3.1.1
MAX_NAME = 200
MIN_PASSWORD = 8
DIRECTORY_LIMIT = 10


def address_problem(address: str, domains: tuple[str, ...]) -> str | None:
    local, at, domain = address.rpartition("@")
    if not at or not _LOCAL_PART.fullmatch(local) or len(local) > MAX_LOCAL_PART:
        return "must be local-part@domain with a plain (dot-atom) local part"
    if domain not in domains:
        return f"must be in a local domain ({', '.join(domains)})"
    if DELIMITER in local:
        # RFC 5233: local+detail@ is local@'s subaddress (mailstore.recipients); an
        # account of that name would take mail meant for another.
        return f"may not hold {DELIMITER!r}, the subaddress delimiter"
    return None


def _validated_account(body: dict[str, Any], domains: tuple[str, ...]) -> tuple[str, str, str]:
    fields: dict[str, str] = {}
    address, name, password = body.get("address"), body.get("name", ""), body.get("password")
    if not isinstance(address, str):
        fields["address"] = "is required (a string)"
    elif problem := address_problem(address.lower(), domains):
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
    invitation = body.get("invitation")
    if invitation is not None and (
        not isinstance(invitation, str) or not 0 < len(invitation) <= MAX_SECRET_LENGTH
    ):
        raise InvalidRequest({"invitation": "must be an invitation's secret or absent"})
    password_hash = await request.app[HASHER].hash(password)
    row = await db.create_account(
        request.app[POOL],
        address=address,
        name=name,
        password_hash=password_hash,
        # LOCALPOST_REGISTRATION=invite: the web passes the link's secret; it is used
        # up with the account's creation or not at all (db.create_account).
        invitation=secret_hash(invitation) if invitation is not None else None,
    )
    account = {"address": row["address"], "name": row["name"]}
    return web.json_response({**account, "created_at": row["created_at"].isoformat()}, status=201)


def _attempt(body: dict[str, Any]) -> logins.Attempt:
    address, password = body.get("address"), body.get("password")
    client, channel = body.get("client"), body.get("channel")
    trusted_device = body.get("trusted_device", False)
    fields = {
        name: "is required (a string)"
        for name, value in (("address", address), ("password", password))
        if not isinstance(value, str)
    }
    if not logins.client_ok(client):
        fields["client"] = (
            f"is required: the client's IP address (1-{logins.MAX_CLIENT} characters)"
        )
    if channel not in logins.CHANNELS:
        fields["channel"] = f"is required, one of {', '.join(logins.CHANNELS)}"
    if not isinstance(trusted_device, bool):
        fields["trusted_device"] = "must be true or false"
    if fields:
        raise InvalidRequest(fields)
    assert isinstance(address, str)
    assert isinstance(password, str)
    assert isinstance(client, str)
    assert isinstance(channel, str)
    return logins.Attempt(address.lower(), password, client, channel, trusted_device)


async def verify(request: web.Request) -> web.Response:
    attempt = _attempt(await json_object(request))
    app = request.app
    outcomes = app[METRICS].logins
    try:
        account = await logins.check(app[POOL], app[HASHER], app[CONFIG], attempt)
    except LoginThrottled:
        outcomes.labels(channel=attempt.channel, outcome="throttled").inc()
        raise
    if account is None:
        outcomes.labels(channel=attempt.channel, outcome="failed").inc()
        return web.json_response({"error": "invalid credentials"}, status=401)
    outcomes.labels(channel=attempt.channel, outcome="ok").inc()
    return web.json_response({"address": account["address"], "name": account["name"]})


def _password_change(body: dict[str, Any]) -> tuple[str, str, int | None, bool]:
    current, new = body.get("current_password"), body.get("new_password")
    keep, revoke = body.get("keep_session"), body.get("revoke_tokens", False)
    fields = {}
    if not isinstance(current, str):
        fields["current_password"] = "is required (a string)"  # noqa: S105 - a message
    if not isinstance(new, str) or not MIN_PASSWORD <= len(new) <= MAX_PASSWORD:
        fields["new_password"] = f"must be a string of {MIN_PASSWORD}-{MAX_PASSWORD} characters"
    if keep is not None and (type(keep) is not int or not 1 <= keep <= MAX_ID):
        fields["keep_session"] = "must be a session id or null"
    if not isinstance(revoke, bool):
        fields["revoke_tokens"] = "must be true or false"
    if fields:
        raise InvalidRequest(fields)
    assert isinstance(current, str)
    assert isinstance(new, str)
    return current, new, keep, revoke


async def change_password(request: web.Request) -> web.Response:
    """The current password, checked under the login throttle (a stolen session must not
    become a free password-guessing oracle), then the new one; every other session ends."""
    account = await account_of(request)
    body = await json_object(request)
    current, new, keep, revoke = _password_change(body)
    client = body.get("client")
    if not logins.client_ok(client):
        raise InvalidRequest({"client": "is required: the client's IP address"})
    assert isinstance(client, str)
    app = request.app
    # Signed in already: the account's ceiling is for strangers (logins.py); the
    # per-client limits still apply.
    attempt = logins.Attempt(account["address"], current, client, "web", trusted_device=True)
    if await logins.check(app[POOL], app[HASHER], app[CONFIG], attempt) is None:
        return web.json_response({"error": "invalid credentials"}, status=401)
    password_hash = await app[HASHER].hash(new)
    await db.change_password(
        app[POOL],
        account_id=account["id"],
        password_hash=password_hash,
        keep_session=keep,
        revoke_tokens=revoke,
    )
    return web.Response(status=204)


async def delete_account(request: web.Request) -> web.Response:
    """The account and its mail, once its password is given (checked under the login
    throttle, as for a password change)."""
    account = await account_of(request)
    body = await json_object(request)
    password, client = body.get("password"), body.get("client")
    fields = {}
    if not isinstance(password, str):
        fields["password"] = "is required (a string)"  # noqa: S105 - a message
    if not logins.client_ok(client):
        fields["client"] = "is required: the client's IP address"
    if fields:
        raise InvalidRequest(fields)
    assert isinstance(password, str)
    assert isinstance(client, str)
    app = request.app
    attempt = logins.Attempt(account["address"], password, client, "web", trusted_device=True)
    if await logins.check(app[POOL], app[HASHER], app[CONFIG], attempt) is None:
        return web.json_response({"error": "invalid credentials"}, status=401)
    await db.delete_account(app[POOL], account_id=account["id"])
    # Its open IMAP and POP3 sessions (a phone left logged in) end as an account an
    # administrator deleted or disabled does (events.py, ``disabled``).
    await app[EVENTS].publish({"event": "disabled", "account": account["address"]})
    return web.Response(status=204)


async def mailbox(request: web.Request) -> web.Response:
    account = await find_account(request, request.match_info["address"])
    # disabled: the gateway refuses mail to it (550 5.2.1, RFC 3463 "mailbox disabled").
    body = {"address": account["address"], "name": account["name"], "disabled": account["disabled"]}
    return web.json_response(body)


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
        found = [_folder(r) for r in rows]
    elif counts == "all":
        rows = await db.folder_counts(pool, account_id=account["id"])
        found = [{**_folder(r), "total": r["total"]} for r in rows]
    else:
        raise InvalidRequest({"counts": "must be all or unread"})
    # The sidebar shows the quota on every page: no second call for it (issue 16).
    used = (await quotas.usage(request, account["id"])).as_json()
    return web.json_response({"folders": found, "quota": used})


def _folder(row: db.Record) -> dict[str, object]:
    # id: what the web's URLs and the other calls name; name: the full path ("/" between
    # levels) that IMAP shows, which users choose.
    return {
        "id": row["id"],
        "name": row["name"],
        "special_use": row["special_use"],
        "unread": row["unread"],
    }
