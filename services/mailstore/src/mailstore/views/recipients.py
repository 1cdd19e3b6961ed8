"""Recipient addresses: the gateway's RCPT check and the aliases an account may send as."""

from __future__ import annotations

from aiohttp import web

from mailstore import db
from mailstore.errors import AccountNotFound
from mailstore.keys import POOL
from mailstore.views.common import account_of


async def recipient(request: web.Request) -> web.Response:
    """200 when mail to the address reaches an account (its own address, a subaddress,
    an alias, a role address with someone behind it), else 404, the same 404 as for an
    unknown account: the answer says nothing of which kinds of address exist."""
    address = request.match_info["address"].lower()
    # PostgreSQL text cannot hold NUL or a lone surrogate: no address has one.
    if not db.storable(address) or not await db.reaches_anyone(request.app[POOL], address=address):
        raise AccountNotFound(address)
    return web.json_response({"address": address})


async def aliases(request: web.Request) -> web.Response:
    account = await account_of(request)
    found = await db.aliases_of(request.app[POOL], account_id=account["id"])
    return web.json_response({"aliases": found})
