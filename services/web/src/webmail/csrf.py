"""CSRF tokens: signed double-submit, bound to the session.

A random ``lp_csrf`` cookie is set on the first visit. A form's token is
HMAC(WEB_SECRET_KEY, cookie value + session secret): a cross-site page can make the
browser send the cookies but can neither read them nor compute the token, and a
token stops working when its session ends (logout, login as someone else).
Requests with ``Authorization`` carry no ambient authority and need no token.

Each response carries the token masked afresh (a random pad, then the token XOR the
pad), as Django and Rails do against BREACH: the bytes of the secret never repeat
from one response to the next, so a compressed page's length says nothing about it,
whatever an attacker makes the page reflect (docs/performance.md, "Compression and
caching of the web's files").
"""

from __future__ import annotations

import base64
import hmac
import secrets

from aiohttp import web

from webmail.keys import NEW_CSRF_NONCE, PRINCIPAL
from webmail.sessions import set_cookie, signature

COOKIE = "lp_csrf"
FIELD = "csrf_token"
HEADER = "X-CSRF-Token"


def _nonce(request: web.Request) -> str:
    existing = request.cookies.get(COOKIE) or request.get(NEW_CSRF_NONCE)
    if existing:
        return existing
    nonce = secrets.token_urlsafe(32)
    request[NEW_CSRF_NONCE] = nonce
    return nonce


def _sign(request: web.Request, nonce: str) -> str:
    principal = request.get(PRINCIPAL)
    session = principal.session if principal is not None and principal.session else ""
    return signature(request, "csrf", nonce, session)


def _bytes(text: str) -> bytes:
    """URL-safe base64 without padding, decoded; ValueError when it is not that."""
    # validate=True: a character outside the alphabet is an error, not skipped.
    return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)


def token(request: web.Request) -> str:
    """The token forms of this page carry in ``csrf_token``, masked for this response."""
    signed = _bytes(_sign(request, _nonce(request)))
    pad = secrets.token_bytes(len(signed))
    masked = pad + bytes(a ^ b for a, b in zip(pad, signed, strict=True))
    return base64.urlsafe_b64encode(masked).decode().rstrip("=")


def is_valid(request: web.Request, presented: str | None) -> bool:
    nonce = request.cookies.get(COOKIE)
    if not nonce or not presented:
        return False
    expected = _bytes(_sign(request, nonce))
    try:
        masked = _bytes(presented)
    except ValueError:  # not base64 (binascii.Error), or not ASCII
        return False
    if len(masked) != 2 * len(expected):
        return False
    pad, rest = masked[: len(expected)], masked[len(expected) :]
    unmasked = bytes(a ^ b for a, b in zip(pad, rest, strict=True))
    return hmac.compare_digest(unmasked, expected)


def set_cookie_if_new(request: web.Request, response: web.StreamResponse) -> None:
    nonce = request.get(NEW_CSRF_NONCE)
    if nonce:
        set_cookie(request, response, COOKIE, nonce)
