"""Recipient addresses: the gateway's RCPT check and the aliases an account may send as."""

from __future__ import annotations

from aiohttp import web

from mailstore import db
from mailstore.errors import AccountNotFound
from mailstore.keys import POOL
from mailstore.views.common import account_of


async def recipient(request: web.Request) -> web.Response:
    """200 when mail to the address reaches an account (its own address, a subaddress,
    an alias, a role address with someone behind it), with ``disabled`` true when those
    are only accounts an administrator disabled; else 404, the same 404 as for an
    unknown account: the answer says nothing of which kinds of address exist."""
    address = request.match_info["address"].lower()
    # PostgreSQL text cannot hold NUL or a lone surrogate: no address has one.
    reaches = (
        await db.reaches_anyone(request.app[POOL], address=address)
        if db.storable(address)
        else False
    )
    if reaches is False:
        raise AccountNotFound(address)
    # disabled: only disabled accounts behind it; the gateway refuses it with 550 5.2.1
    # (RFC 3463 "mailbox disabled"), as GET /v1/mailboxes says of an account.
    return web.json_response({"address": address, "disabled": reaches is None})


async def aliases(request: web.Request) -> web.Response:
    account = await account_of(request)
    found = await db.aliases_of(request.app[POOL], account_id=account["id"])
    return web.json_response({"aliases": found})
