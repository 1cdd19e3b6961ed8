"""Which registration mode is in force (issue 16): the one an administrator chose on
/admin, stored by the mail store, else LOCALPOST_REGISTRATION. Asked at every sign-up
request: a choice made on /admin applies at once, in every web process."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from webmail.errors import MailstoreUnavailable
from webmail.keys import CONFIG, MAILSTORE


@dataclass(frozen=True, slots=True)
class Mode:
    mode: str  # open | invite | closed
    # "admin": chosen on /admin (the database's); "environment": LOCALPOST_REGISTRATION.
    source: str


async def in_force(request: web.Request) -> Mode:
    chosen = await request.app[MAILSTORE].registration()
    if chosen is not None:
        return Mode(chosen, "admin")
    return Mode(request.app[CONFIG].registration, "environment")


async def offers_sign_up(request: web.Request) -> bool:
    """Whether the login page links to the sign-up page. The login page must work while
    the mail store cannot answer (it says so only when a login is tried): then the
    environment's mode decides, as before /admin could choose."""
    try:
        return (await in_force(request)).mode == "open"
    except MailstoreUnavailable:
        return request.app[CONFIG].registration == "open"
