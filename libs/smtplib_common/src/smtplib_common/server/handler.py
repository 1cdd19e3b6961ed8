"""The handler interface: business decisions the server asks about.

Every hook is optional and async. A hook that returns ``None`` accepts with the
server's default reply; returning a :class:`~smtplib_common.replies.Reply`
sends that reply instead (and a 4xx/5xx reply refuses). The server looks the
hooks up once, when it is created, so a handler is any object with some of
these methods::

    class Handler:
        async def handle_connect(self, session) -> Reply | None
        async def handle_ehlo(self, session, hostname) -> Reply | None
        async def handle_mail(self, session, envelope, address, params) -> Reply | None
        async def handle_rcpt(self, session, envelope, address, params) -> Reply | None
        async def handle_message(self, session, envelope, message: bytes) -> Reply | None
        async def handle_vrfy(self, session, address) -> Reply | None
        async def authenticate(self, session, credentials) -> AuthResult | bool
        async def handle_disconnect(self, session) -> None

``handle_message`` gets the whole message as bytes, CRLF line endings, with the
server's ``Received:`` header first (RFC 5321 §4.4). Its reply is the reply to
DATA or to the last BDAT, so a 250 from it is the promise of RFC 5321 §6.1: the
handler must have made the message safe before it returns. ``None`` means
``250 2.0.0 OK: queued as <envelope.id>``.

``AUTH`` is offered only when the handler has ``authenticate``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from smtplib_common.replies import Reply
from smtplib_common.server.session import AuthResult, Credentials, Envelope, Session

ConnectHook = Callable[[Session], Awaitable[Reply | None]]
EhloHook = Callable[[Session, str], Awaitable[Reply | None]]
AddressHook = Callable[[Session, Envelope, str, dict[str, str | None]], Awaitable[Reply | None]]
MessageHook = Callable[[Session, Envelope, bytes], Awaitable[Reply | None]]
VrfyHook = Callable[[Session, str], Awaitable[Reply | None]]
AuthHook = Callable[[Session, Credentials], Awaitable[AuthResult | bool]]
DisconnectHook = Callable[[Session], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Hooks:
    """The hooks a handler provides, looked up once."""

    connect: ConnectHook | None = None
    ehlo: EhloHook | None = None
    mail: AddressHook | None = None
    rcpt: AddressHook | None = None
    message: MessageHook | None = None
    vrfy: VrfyHook | None = None
    authenticate: AuthHook | None = None
    disconnect: DisconnectHook | None = None

    @classmethod
    def of(cls, handler: Any) -> Hooks:
        def hook(name: str) -> Any:
            return getattr(handler, name, None)

        return cls(
            connect=hook("handle_connect"),
            ehlo=hook("handle_ehlo"),
            mail=hook("handle_mail"),
            rcpt=hook("handle_rcpt"),
            message=hook("handle_message"),
            vrfy=hook("handle_vrfy"),
            authenticate=hook("authenticate"),
            disconnect=hook("handle_disconnect"),
        )
