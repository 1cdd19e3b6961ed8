"""CSRF tokens: signed double-submit, bound to the session.

A random ``lp_csrf`` cookie is set on the first visit. A form's token is
HMAC(WEB_SECRET_KEY, cookie value + session secret): a cross-site page can make the
browser send the cookies but can neither read them nor compute the token, and a
token stops working when its session ends (logout, login as someone else).
Requests with ``Authorization`` carry no ambient authority and need no token.
"""

from __future__ import annotations

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


def token(request: web.Request) -> str:
    """The token forms of this page carry in ``csrf_token``."""
    return _sign(request, _nonce(request))


def is_valid(request: web.Request, presented: str | None) -> bool:
    nonce = request.cookies.get(COOKIE)
    if not nonce or not presented:
        return False
    return hmac.compare_digest(_sign(request, nonce).encode(), presented.encode())


def set_cookie_if_new(request: web.Request, response: web.StreamResponse) -> None:
    nonce = request.get(NEW_CSRF_NONCE)
    if nonce:
        set_cookie(request, response, COOKIE, nonce)
