"""One POP3 session's state and settings (RFC 1939 §3: AUTHORIZATION, TRANSACTION, UPDATE)."""

from __future__ import annotations

import asyncio
import enum
import secrets
import ssl
from dataclasses import dataclass, field

from imap_gateway import backend as bk
from imap_gateway.pop3.lines import LineReader
from imap_gateway.pop3.maildrop import Maildrop

MINUTE = 60.0


class ResponseBroken(Exception):
    """A multi-line response failed after its +OK went out: the client cannot be told
    any more, so the connection is closed (it sees no terminating ".")."""


class State(enum.Enum):
    AUTHORIZATION = "authorization"
    TRANSACTION = "transaction"
    UPDATE = "update"  # after QUIT in TRANSACTION; the session ends there


@dataclass(frozen=True, slots=True)
class Pop3Settings:
    # RFC 1939 §3: an inactivity autologout timer of at least 10 minutes.
    idle_timeout: float = 10 * MINUTE
    # How long a connection may stay in AUTHORIZATION in all (it may guess passwords).
    login_timeout: float = 60.0
    # How long the server waits for the client to read a response.
    write_timeout: float = 5 * MINUTE
    # The longest line read: RFC 2449 §4 bounds commands to 255 octets, but a SASL
    # response (RFC 5034 §4) may be longer; past this the line is refused.
    max_line: int = 8192
    # Commands per second after a burst (the IMAP sessions' token bucket); None: no limit.
    commands_per_second: float | None = None
    command_burst: int = 200
    # The maildrop lock's lease (RFC 1939 §8), renewed every third of it while the
    # session lives; a gateway that dies holds an account for at most this long.
    lock_seconds: int = 120
    # STLS (RFC 2595 §4) is offered when a context is given.
    tls_context: ssl.SSLContext | None = None
    greeting: str = "Localpost POP3 ready"


@dataclass(eq=False)
class Session:
    backend: bk.Backend
    settings: Pop3Settings
    reader: LineReader
    writer: asyncio.StreamWriter
    peer: str
    # USER/PASS and AUTH PLAIN are allowed: over TLS, or from a trusted network.
    plaintext_allowed: bool
    tls: bool
    state: State = State.AUTHORIZATION
    username: str | None = None  # from USER, for PASS
    user: bk.UserSession | None = None
    maildrop: Maildrop | None = None
    # This session's name for the maildrop lock; random, never reused.
    holder: str = field(default_factory=lambda: secrets.token_hex(16))
    locked: bool = False
    lock_lost: bool = False
    ended: bool = False  # QUIT answered: close after the reply
    stop_requested: bool = False
    # The -ERR's text when it is not the service's stop (an account disabled).
    stop_text: str | None = None
    # The address logged in as, lowercased (LivePop3Sessions.end_account).
    account: str | None = None
    busy: bool = False  # running a command (a graceful stop lets it finish)
    # Whether the current command's reply was +OK (None: nothing written yet), for metrics.
    answered_ok: bool | None = None

    def write(self, data: bytes) -> None:
        if self.answered_ok is None:
            self.answered_ok = data.startswith(b"+OK")
        self.writer.write(data)

    async def drain(self) -> None:
        async with asyncio.timeout(self.settings.write_timeout):
            await self.writer.drain()
