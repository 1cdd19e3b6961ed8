"""Per-connection state (:class:`Session`) and per-transaction state (:class:`Envelope`).

A session lives from connect to disconnect and survives many transactions;
an envelope lives from MAIL to the end of DATA/BDAT (or RSET, EHLO, STARTTLS).
"""

from __future__ import annotations

import enum
import ipaddress
import time
from dataclasses import dataclass, field

from smtplib_common.replies import Reply


class State(enum.Enum):
    """Where a session is in RFC 5321's command sequence (§4.1.4)."""

    CONNECTED = "connected"  # greeted; only EHLO/HELO start mail
    READY = "ready"  # after EHLO/HELO, no transaction
    MAIL = "mail"  # MAIL accepted, no recipient yet
    RCPT = "rcpt"  # at least one recipient accepted
    BDAT = "bdat"  # inside a chunked transfer (RFC 3030)
    CLOSED = "closed"


class BodyType(enum.Enum):
    """The MAIL BODY= parameter (RFC 6152 §2)."""

    SEVEN_BIT = "7BIT"
    EIGHT_BIT_MIME = "8BITMIME"


@dataclass(slots=True)
class Envelope:
    """One mail transaction: who from, who to, and how the client declared it."""

    id: str
    mail_from: str  # "" is the null reverse-path <>
    mail_params: dict[str, str | None] = field(default_factory=dict)
    rcpt_tos: list[str] = field(default_factory=list)
    rcpt_params: list[dict[str, str | None]] = field(default_factory=list)
    body_type: BodyType = BodyType.SEVEN_BIT
    smtputf8: bool = False
    declared_size: int | None = None
    # RFC 4954 §5: the AUTH= mailbox on MAIL, decoded from xtext. None when
    # absent or "<>"; the handler decides whether to trust it.
    auth_mailbox: str | None = None
    received_at: float = field(default_factory=time.time)
    used_bdat: bool = False


@dataclass(slots=True)
class Session:
    """One SMTP connection."""

    peer: tuple[str, int]
    server_hostname: str
    state: State = State.CONNECTED
    helo_name: str | None = None
    esmtp: bool = False  # EHLO rather than HELO: extensions and enhanced codes apply
    tls: bool = False
    tls_version: str | None = None
    tls_cipher: str | None = None
    # The identity AUTH established (RFC 4954), e.g. the account address.
    authenticated_as: str | None = None
    auth_mechanism: str | None = None
    envelope: Envelope | None = None
    transactions: int = 0
    errors: int = 0
    # NOOP, RSET, VRFY and HELP since the last accepted message.
    junk_commands: int = 0
    # Commands outside a transaction before a message was accepted (counted
    # only while unauthenticated: ServerConfig.max_commands_before_mail).
    commands_before_mail: int = 0
    auth_failures: int = 0
    started_at: float = field(default_factory=time.monotonic)

    @property
    def peer_ip(self) -> str:
        return self.peer[0]

    def peer_in(self, networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]) -> bool:
        """Whether the client's address is in one of ``networks`` (an IPv4 client on a
        dual-stack socket, ``::ffff:a.b.c.d``, counts as ``a.b.c.d``)."""
        if not networks:
            return False
        try:
            ip = ipaddress.ip_address(self.peer_ip.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in net for net in networks)

    def reset_transaction(self) -> None:
        """RSET semantics (RFC 5321 §4.1.1.5): drop the envelope, keep the session."""
        self.envelope = None
        if self.state in (State.MAIL, State.RCPT, State.BDAT):
            self.state = State.READY

    def reset_all(self) -> None:
        """After STARTTLS nothing learned in plaintext survives (RFC 3207 §4.2)."""
        self.envelope = None
        self.state = State.CONNECTED
        self.helo_name = None
        self.esmtp = False
        self.authenticated_as = None
        self.auth_mechanism = None


@dataclass(frozen=True, slots=True)
class Credentials:
    """What a client presented with AUTH. The password never appears in repr."""

    mechanism: str
    username: str
    password: str = field(repr=False)
    authzid: str = ""  # RFC 4616 §2: the identity to act as, if different


@dataclass(frozen=True, slots=True)
class AuthResult:
    """A handler's verdict on :class:`Credentials`."""

    success: bool
    # The identity to record on the session; defaults to the username.
    identity: str | None = None
    # With success False: the reply instead of 535 5.7.8, for a check that did not judge
    # the credentials (a 454 4.7.0 "try again later", RFC 4954 §6). Such a refusal ends
    # the session after max_auth_failures like any other, but is not a wrong password:
    # it is neither slowed down nor recorded in the listener's throttle.
    reply: Reply | None = None
