"""The POP3 gateway's maildrop lock (RFC 1939 §8), held across gateway replicas.

The gateway names each POP3 session by a random ``holder``; the lock is a lease of
``seconds`` that the session renews by taking it again and gives back at QUIT or when
the connection drops. A gateway that dies leaves a lease that simply expires.
"""

from __future__ import annotations

from aiohttp import web

from mailstore.db import pop3_locks
from mailstore.errors import InvalidRequest, MaildropInUse
from mailstore.keys import POOL
from mailstore.views.common import account_of, json_object

# RFC 1939 §3: a POP3 server's autologout timer is at least 10 minutes, so a lease is
# renewed well inside that; a lease longer than an hour would keep a dead gateway's
# account locked for too long.
MIN_LEASE_SECONDS = 1
MAX_LEASE_SECONDS = 3600
MAX_HOLDER_CHARS = 100


def _holder(value: object) -> str:
    if (
        not isinstance(value, str)
        or not 1 <= len(value) <= MAX_HOLDER_CHARS
        or not value.isascii()
        or not value.isprintable()
    ):
        raise InvalidRequest({"holder": f"must be 1-{MAX_HOLDER_CHARS} printable ASCII characters"})
    return value


async def take_lock(request: web.Request) -> web.Response:
    """Take or renew the lock: 200 with its expiry, 409 ``inuse`` when another has it."""
    account = await account_of(request)
    body = await json_object(request)
    holder = _holder(body.get("holder"))
    seconds = body.get("seconds")
    if (
        not isinstance(seconds, int)
        or isinstance(seconds, bool)
        or not MIN_LEASE_SECONDS <= seconds <= MAX_LEASE_SECONDS
    ):
        raise InvalidRequest(
            {"seconds": f"must be a whole number {MIN_LEASE_SECONDS}-{MAX_LEASE_SECONDS}"}
        )
    expires_at = await pop3_locks.take_lock(
        request.app[POOL], account_id=account["id"], holder=holder, seconds=seconds
    )
    if expires_at is None:
        raise MaildropInUse(account["address"])
    return web.json_response({"expires_at": expires_at.isoformat()})


async def release_lock(request: web.Request) -> web.Response:
    """Give the lock back (204); a holder that no longer has it changes nothing."""
    account = await account_of(request)
    holder = _holder(request.query.get("holder"))
    await pop3_locks.release_lock(request.app[POOL], account_id=account["id"], holder=holder)
    return web.Response(status=204)
