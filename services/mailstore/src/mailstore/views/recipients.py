"""Recipient addresses: the gateway's RCPT check and the aliases an account may send as."""

from __future__ import annotations

from aiohttp import web

from mailstore import db
from mailstore.errors import AccountNotFound
from mailstore.keys import CONFIG, POOL
from mailstore.quotas import usage_of
from mailstore.views.common import account_of


async def recipient(request: web.Request) -> web.Response:
    """200 when mail to the address reaches an account (its own address, a subaddress,
    an alias, a list, a role address with someone behind it, a catch-all), with
    ``disabled`` true when those are only accounts an administrator disabled and
    ``sender_refused`` true when it is a list whose posting policy refuses ``?sender=``
    (the address the gateway vouches for; absent or empty: the null sender); else 404,
    the same 404 as for an unknown account: the answer says nothing of which kinds of
    address exist."""
    address = request.match_info["address"].lower()
    sender = request.query.get("sender", "").lower() or None
    # PostgreSQL text cannot hold NUL or a lone surrogate: no address has one.
    if sender is not None and not db.storable(sender):
        sender = None
    check = (
        await db.recipient_check(request.app[POOL], address=address, sender=sender)
        if db.storable(address)
        else db.RecipientCheck(False)
    )
    if check.reaches is False:
        raise AccountNotFound(address)
    room = await _room(request, check.accounts)
    # disabled: only disabled accounts behind it; the gateway refuses it with 550 5.2.1
    # (RFC 3463 "mailbox disabled"), as GET /v1/mailboxes says of an account.
    # sender_refused: the gateway refuses it with 550 5.7.1 (RFC 3463 "delivery not
    # authorized"); only the gateway sees that the address is a list.
    room = await _room(request, check.accounts)
    return web.json_response(
        {
            "address": address,
            "disabled": check.reaches is None,
            "sender_refused": not check.may_post,
            **room,
        }
    )


async def aliases(request: web.Request) -> web.Response:
    account = await account_of(request)
    found = await db.aliases_of(request.app[POOL], account_id=account["id"])
    return web.json_response({"aliases": found})


async def _room(request: web.Request, accounts: tuple[int, ...]) -> dict[str, object]:
    """Quota (issue 16): ``full`` when every account behind the address is full (the
    gateway's 452 4.2.2 at RCPT), ``room`` the most bytes one of them may still take
    (null: one has no limit; a larger message gets 552 5.2.2 at DATA). A message that
    fits one of them is accepted and stored for all: mail acknowledged is never lost."""
    rows = await db.recipient_quotas(request.app[POOL], account_ids=accounts)
    default = request.app[CONFIG].default_quota
    usages = [usage_of(used=r["quota_used"], own=r["quota"], default=default) for r in rows]
    rooms = [usage.room for usage in usages]
    room = None if not rooms or None in rooms else max(r for r in rooms if r is not None)
    return {"full": room == 0, "room": room}
