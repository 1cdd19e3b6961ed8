"""The browser session cookie. The session itself lives in the mail store (revocable,
shared by every web replica); the cookie holds only its random secret."""

from __future__ import annotations

from aiohttp import web

from webmail.keys import MAILSTORE, PRINCIPAL
from webmail.mailstore_client import Account

COOKIE = "lp_session"
# The mail store expires idle sessions after MAILSTORE_SESSION_DAYS (14); the cookie
# may live as long, and the server decides.
MAX_AGE = 14 * 24 * 3600


def set_cookie(request: web.Request, response: web.StreamResponse, name: str, value: str) -> None:
    # HttpOnly: no script reads it; Lax: not sent on cross-site POSTs; Secure over HTTPS.
    response.set_cookie(
        name,
        value,
        max_age=MAX_AGE,
        path="/",
        httponly=True,
        samesite="Lax",
        secure=request.secure,
    )


async def start(request: web.Request, response: web.StreamResponse, account: Account) -> None:
    """Log ``account`` in: a new session (a fresh id at every login, against fixation)."""
    mailstore = request.app[MAILSTORE]
    old = request.cookies.get(COOKIE)
    if old:
        await mailstore.delete_session(old)
    secret = await mailstore.create_session(account.address)
    set_cookie(request, response, COOKIE, secret)


async def end(request: web.Request, response: web.StreamResponse) -> None:
    """Log out: the session ends in the mail store, so every copy of the cookie is dead."""
    principal = request.get(PRINCIPAL)
    if principal is not None and principal.session is not None:
        await request.app[MAILSTORE].delete_session(principal.session)
    response.del_cookie(COOKIE, path="/")
