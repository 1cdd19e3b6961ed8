"""The browser's cookies: the session, and the device cookie of the login throttle.

The session itself lives in the mail store (revocable, shared by every web replica);
the cookie holds only its random secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from aiohttp import web

from webmail import devices
from webmail.keys import CONFIG, MAILSTORE, PRINCIPAL
from webmail.mailstore_client import Account

COOKIE = "lp_session"
# The mail store expires idle sessions after MAILSTORE_SESSION_DAYS (14); the cookie
# may live as long, and the server decides.
MAX_AGE = 14 * 24 * 3600
# "This browser has logged in to <address> before" (auth.login, docs/security.md): it
# lifts only the account-wide login ceiling, and is worthless without the password.
DEVICE_COOKIE = "lp_device"
DEVICE_MAX_AGE = 365 * 24 * 3600


def set_cookie(
    request: web.Request,
    response: web.StreamResponse,
    name: str,
    value: str,
    *,
    max_age: int = MAX_AGE,
    path: str = "/",
) -> None:
    # HttpOnly: no script reads it; Lax: not sent on cross-site POSTs; Secure over HTTPS
    # or when WEB_COOKIE_SECURE says a proxy in front speaks HTTPS.
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=path,
        httponly=True,
        samesite="Lax",
        secure=request.secure or request.app[CONFIG].cookie_secure,
    )


async def start(request: web.Request, response: web.StreamResponse, account: Account) -> None:
    """Log ``account`` in: a new session (a fresh id at every login, against fixation)."""
    give(request, response, account, await open_session(request, account))


async def open_session(request: web.Request, account: Account) -> str:
    """A new session of ``account`` (the browser's old one ended): its secret, for
    ``give``. Apart from ``start`` for a page that must be rendered as the new session
    (its forms' CSRF tokens are bound to it) before the response exists."""
    mailstore = request.app[MAILSTORE]
    old = request.cookies.get(COOKIE)
    if old:
        await mailstore.delete_session(old)
    device = devices.summary(request.headers.get("User-Agent", ""))
    return await mailstore.create_session(account.address, device=device)


def give(request: web.Request, response: web.StreamResponse, account: Account, secret: str) -> None:
    """The cookies of the session ``secret`` of ``account`` on ``response``."""
    set_cookie(request, response, COOKIE, secret)
    nonce = secrets.token_urlsafe(16)
    device = f"{nonce}.{signature(request, 'device', nonce, account.address)}"
    set_cookie(request, response, DEVICE_COOKIE, device, max_age=DEVICE_MAX_AGE)


async def end(request: web.Request, response: web.StreamResponse) -> None:
    """Log out: the session ends in the mail store, so every copy of the cookie is dead."""
    principal = request.get(PRINCIPAL)
    if principal is not None and principal.session is not None:
        await request.app[MAILSTORE].delete_session(principal.session)
    response.del_cookie(COOKIE, path="/")


def is_known_device(request: web.Request, address: str) -> bool:
    """Whether this browser logged in to ``address`` (as ``auth.full_address`` has it)."""
    nonce, _, mac = request.cookies.get(DEVICE_COOKIE, "").partition(".")
    if not nonce or not mac:
        return False
    expected = signature(request, "device", nonce, address)
    return hmac.compare_digest(expected.encode(), mac.encode())


def signature(request: web.Request, purpose: str, *parts: str) -> str:
    """HMAC-SHA256 under WEB_SECRET_KEY of ``purpose`` and ``parts``, NUL-separated,
    URL-safe. What gets signed (random nonces, session secrets, account addresses) holds
    no NUL, so no other split of the same bytes, however a cookie is forged, matches."""
    key = request.app[CONFIG].secret_key.encode()
    message = "\0".join((purpose, *parts)).encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")
