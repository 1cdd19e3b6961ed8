"""What the handlers share: the signed-in user, path ids, form fields, redirects (with
the notice the next page shows)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from aiohttp import web

from webmail import notices
from webmail.controls import INVISIBLE, has_control
from webmail.errors import InvalidFields, NotAuthenticated
from webmail.keys import PRINCIPAL
from webmail.sessions import set_cookie
from webmail.typedefs import Principal

# A folder id as the mail store makes them (migration 0007): the standard folders'
# names and f<n>; the web's URLs name folders by id, which a rename never changes.
FOLDER_ID = r"[a-z][a-z0-9]{0,19}"
PAGE_SIZE = 50

# The reader's choice of font for plain-text bodies, remembered by the browser: "fixed"
# (monospace, for tables and ASCII art) or, by default, proportional (easier to read).
TEXT_FONT_COOKIE = "lp_text_font"


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


def folder_field(value: str, field_name: str = "folder") -> str:
    """A folder id from a form or query; whether it is the user's, the mail store says."""
    if not re.fullmatch(FOLDER_ID, value):
        raise InvalidFields({field_name: "Choose a folder."})
    return value


def see_other(location: str) -> web.Response:
    # 303: after a POST, the browser follows with a GET (RFC 9110 §15.4.4).
    return web.Response(status=303, headers={"Location": location})


def with_notice(request: web.Request, location: str, value: str | None) -> web.Response:
    """The redirect to ``location``, carrying the notice its page shows once."""
    response = see_other(location)
    if value is not None:
        set_cookie(request, response, notices.COOKIE, value, max_age=notices.MAX_AGE)
    return response
