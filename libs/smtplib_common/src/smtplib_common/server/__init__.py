"""Localpost's asyncio SMTP server (RFC 5321 with the extensions mail needs today).

Typical use::

    server = SMTPServer(MyHandler(), ServerConfig(hostname="mx.example.test"))
    await server.start("127.0.0.1", 2525)
    ...
    await server.stop()

See :mod:`smtplib_common.server.handler` for the hooks a handler may define,
and docs/smtp.md for every verb, extension and limit.
"""

from smtplib_common.server.config import ServerConfig, parse_networks
from smtplib_common.server.handler import Hooks
from smtplib_common.server.listener import SMTPServer
from smtplib_common.server.session import (
    AuthResult,
    BodyType,
    Credentials,
    Envelope,
    Session,
    State,
)

__all__ = [
    "AuthResult",
    "BodyType",
    "Credentials",
    "Envelope",
    "Hooks",
    "SMTPServer",
    "ServerConfig",
    "Session",
    "State",
    "parse_networks",
]
