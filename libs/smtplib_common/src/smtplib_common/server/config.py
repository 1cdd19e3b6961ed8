"""Every limit and timeout of the server, each with the RFC section behind it."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass, field

from smtplib_common.ids import new_id

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

MiB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """How one listener behaves. The defaults suit a mail service on a LAN."""

    # Name in the greeting, EHLO reply and Received: header (RFC 5321 §4.1.1.1).
    hostname: str = field(default_factory=socket.getfqdn)

    # RFC 5321 §4.5.3.1.4: a command line is at most 512 octets with its CRLF.
    command_line_limit: int = 512
    # RFC 5321 §4.5.3.1.4 lets each extension lengthen MAIL/RCPT; SIZE, BODY,
    # SMTPUTF8 and an xtext AUTH=<mailbox> (RFC 4954 §5) fit comfortably here.
    extension_allowance: int = 512
    # RFC 4954 §4: a server must accept an AUTH response line of 12,288 octets.
    auth_line_limit: int = 12_288
    # RFC 5321 §4.5.3.1.6 sets 1,000 octets per text line, but §4.5.3.1 asks for
    # as few limits as possible and real mail (minified HTML) breaks it. Lines
    # are never held whole (DATA is streamed), so this bound costs no memory.
    data_line_limit: int = 1 * MiB
    # RFC 5321 §4.5.3.1.8 (at least 100 recipients must be accepted);
    # more get 452 4.5.3 (§4.5.3.1.10).
    max_recipients: int = 100
    # RFC 1870: advertised in EHLO as SIZE and enforced while receiving.
    max_message_size: int = 25 * MiB
    # Refuse new connections with 421 beyond these (RFC 5321 §3.8).
    max_connections: int = 2000
    # Per source address (an IPv4 address, an IPv6 /64, an IPv4-mapped IPv6
    # address as IPv4), checked by server.peers.PeerLimits, which several
    # listeners may share: connections open at once, and new connections per
    # connection_rate_window (a token bucket, so a burst of that many, then an
    # even pace). Beyond either: 421 4.7.0 at connect (RFC 5321 §3.8; RFC 3463
    # X.7.0). 20 at once is a busy MTA's whole queue run; 60 a minute is one a
    # second, more than any one sender needs (a pooling client such as the web
    # service opens a few a minute), while a flood from one address is cut to
    # a trickle. None: no limit.
    max_connections_per_peer: int | None = 20
    max_connection_rate_per_peer: int | None = 60
    connection_rate_window: float = 60.0
    # Rate buckets and log entries kept, least recently seen forgotten first.
    tracked_peers: int = 10_000
    # A refusal by a per-source limit is logged at most once per source and
    # limit in this many seconds (with the count of those not logged), so a
    # flood cannot flood the log.
    limit_log_interval: float = 60.0
    # Unknown commands and syntax or sequence errors a session may make before
    # it is closed with 421 (RFC 5321 §4.2.5 permits closing on abuse).
    max_errors: int = 20
    # Junk commands (NOOP, RSET, VRFY, HELP) a session may send without a
    # message being accepted; the next one is answered 421 and the session
    # closed (RFC 5321 §4.2.5 permits closing on abuse; Postfix's
    # smtpd_junk_command_limit is 100 as well). Each accepted message starts
    # the count again. None: no limit.
    max_junk_commands: int | None = 100
    # Commands an unauthenticated session may send outside a mail transaction
    # (EHLO, NOOP, RSET, HELP, a MAIL that opens one, errors...; QUIT is free)
    # before a message is accepted; the next is answered 421 4.7.0 and the
    # session closed. RFC 5321 §4.5.3 lets a server set such limits and §4.2.5
    # permits closing on abuse; a real client needs five or so (EHLO, STARTTLS,
    # EHLO, AUTH, MAIL), so 20 is room to spare, and a RSET/NOOP/HELP or
    # MAIL/RSET loop ends quickly. Each accepted message starts the count
    # again; authenticated sessions are not counted. None: no limit.
    max_commands_before_mail: int | None = 20
    # RFC 4954 §4 lets servers limit failures; each one is also slowed down.
    max_auth_failures: int = 3
    auth_failure_delay: float = 1.0
    # Server-wide, across connections: a peer address (an IPv6 /64) with this
    # many failed AUTHs within the window gets 454 4.7.0 on every AUTH until
    # older failures leave the window (RFC 4954 §4 lets servers limit
    # failures; §6: 454 4.7.0 is the temporary refusal). At most
    # auth_throttle_peers addresses are remembered, the one whose last failure
    # is oldest forgotten first, so memory is bounded. None: no such limit.
    auth_throttle_failures: int | None = 10
    auth_throttle_window: float = 900.0
    auth_throttle_peers: int = 10_000
    # Peers in these networks are never throttled across connections (one address
    # there may stand for many people: a NAT, a proxy, the webmail's host).
    auth_throttle_exempt_networks: tuple[Network, ...] = ()
    # RFC 5321 §4.5.3.2.7: the server timeout should be at least 5 minutes.
    # Progress during DATA/BDAT counts as activity.
    idle_timeout: float = 300.0
    # RFC 5321 §4.5.3.2.5 gives a client 3 minutes per data block it sends and
    # §4.5.3.2.7 the server 5 minutes between reads; neither bounds a whole
    # transfer, so a byte every few minutes could hold DATA or BDAT open for
    # ever. From the DATA command or the first BDAT of a transaction (to its
    # LAST chunk, pauses between chunks included) a transfer has
    # data_rate_grace seconds, and each octet received buys 1/min_data_rate
    # seconds more; one that falls behind is answered 421 4.7.0 and closed (a
    # policy refusal, RFC 3463 X.7.0). A client that sends DATA has its message
    # ready, so 10 s is ample for the first octets, and Postfix's
    # smtpd_min_data_rate is 500 as well: even a 1 MiB message may take 35
    # minutes. (The grace was once the §4.5.3.2.7 five minutes: a trickle of
    # 0.2 octets/s then held a connection for over 300 s.) None: no rate check.
    min_data_rate: int | None = 500
    data_rate_grace: float = 10.0
    # An absolute bound on one session, against a client that stays just busy
    # enough (a NOOP every few minutes) to hold a connection forever.
    max_session_time: float = 3600.0
    # How long to wait for a TLS handshake after STARTTLS (RFC 3207).
    tls_handshake_timeout: float = 30.0
    # RFC 5321 §6.3 suggests counting Received: headers to catch loops;
    # Postfix's hopcount_limit is 50 as well. Exceeding it is 554 5.4.6.
    max_received_headers: int = 50
    # Require AUTH before MAIL (a submission listener, RFC 6409 §4.3).
    auth_required: bool = False
    # RFC 4954 §4: plaintext mechanisms should only be offered over TLS. Peers
    # in these networks may authenticate in plaintext (trusted LAN, loopback).
    auth_require_tls: bool = True
    plaintext_auth_networks: tuple[Network, ...] = ()
    # Add a Received: trace header (RFC 5321 §4.4) before the handler sees the
    # message.
    add_received_header: bool = True
    # Makes the transaction id (Envelope.id) used in Received: and replies.
    id_factory: Callable[[], str] = new_id

    def __post_init__(self) -> None:
        if self.command_line_limit < 512:
            raise ValueError("command_line_limit below RFC 5321's 512 octets")
        if self.max_recipients < 1 or self.max_message_size < 1:
            raise ValueError("max_recipients and max_message_size must be positive")
        if self.min_data_rate is not None and self.min_data_rate < 1:
            raise ValueError("min_data_rate must be positive (None disables it)")
        for name in ("max_connections_per_peer", "max_connection_rate_per_peer"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be positive (None disables it)")
        if self.max_commands_before_mail is not None and self.max_commands_before_mail < 1:
            raise ValueError("max_commands_before_mail must be positive (None disables it)")
        if self.auth_throttle_failures is not None and (
            self.auth_throttle_failures < 1
            or self.auth_throttle_window <= 0
            or self.auth_throttle_peers < 1
        ):
            raise ValueError("auth_throttle_* must be positive (failures None disables it)")

    @property
    def mail_line_limit(self) -> int:
        """The longest MAIL or RCPT line accepted, extensions included."""
        return self.command_line_limit + self.extension_allowance

    @property
    def read_line_limit(self) -> int:
        """The longest line the reader buffers before discarding it as overlong."""
        return max(self.mail_line_limit, self.auth_line_limit + len("AUTH PLAIN \r\n"))


def parse_networks(text: str) -> tuple[Network, ...]:
    """``"127.0.0.0/8,::1"`` → networks; raises ValueError naming a bad entry."""
    nets = []
    for part in text.split(","):
        part = part.strip()
        if part:
            try:
                nets.append(ipaddress.ip_network(part, strict=False))
            except ValueError as exc:
                raise ValueError(f"not a network: {part!r}") from exc
    return tuple(nets)
