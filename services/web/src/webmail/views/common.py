"""What the handlers share: the signed-in user, path ids, form fields, redirects."""

from __future__ import annotations

from urllib.parse import urlsplit

from aiohttp import web

from webmail.controls import INVISIBLE, has_control
from webmail.errors import NotAuthenticated
from webmail.keys import PRINCIPAL
from webmail.typedefs import Principal

FOLDERS = ("inbox", "sent", "trash")
PAGE_SIZE = 50


def require_user(request: web.Request) -> Principal:
    if PRINCIPAL not in request:
        raise NotAuthenticated()
    return request[PRINCIPAL]


def entry_id(request: web.Request) -> int:
    return int(request.match_info["id"])


def field(form: object, name: str, default: str = "") -> str:
    """A text field of a parsed form; a file or a missing field gives ``default``."""
    value = form.get(name, default) if hasattr(form, "get") else default
    return value if isinstance(value, str) else default


def safe_next(target: str | None, default: str = "/mail/inbox") -> str:
    """A redirect target from the query, only if it stays on this site (no open redirect).

    A control character is refused outright: browsers drop tabs and newlines inside a
    URL (WHATWG URL), and a CR, LF or NUL in ``Location`` is a header aiohttp refuses to
    send, which dropped the connection.
    """
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    if has_control(target, INVISIBLE):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target


def see_other(location: str) -> web.Response:
    # 303: after a POST, the browser follows with a GET (RFC 9110 §15.4.4).
    return web.Response(status=303, headers={"Location": location})
