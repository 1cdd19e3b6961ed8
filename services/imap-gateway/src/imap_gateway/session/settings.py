"""The session's settings: every timeout and switch named, with the RFC behind it."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field

from imap_gateway.wire.limits import WireLimits

MINUTE = 60.0


@dataclass(frozen=True, slots=True)
class SessionSettings:
    """How one IMAP session behaves; the defaults suit a mail service on a LAN."""

    # RFC 9051 §5.4: an autologout timer must be at least 30 minutes of inactivity;
    # IDLE clients re-issue it every 29 minutes (RFC 2177 §3).
    idle_timeout: float = 30 * MINUTE
    # A command that has started to arrive must be complete within this (between
    # one and two of these, as the reader checks in windows): slowloris.
    command_timeout: float = 60.0
    # How long a connection may stay not authenticated in all, however busy: it
    # holds a socket and may guess passwords, and a real client logs in at once.
    login_timeout: float = 60.0
    # A token bucket per session: a burst of command_burst commands, then this many
    # per second. Past it the next command waits (it is neither read nor refused):
    # a NO [LIMIT] would fail a pipelining client's commands in the middle of a sync,
    # while a delay only slows it, and TCP backpressure reaches the sender. None: no
    # limit.
    commands_per_second: float | None = None
    command_burst: int = 200
    # How long the server waits for the client to read a response before giving up.
    write_timeout: float = 5 * MINUTE
    wire: WireLimits = field(default_factory=WireLimits)
    # STARTTLS (RFC 9051 §6.2.1): offered when a context is given.
    tls_context: ssl.SSLContext | None = None
    greeting: str = "Localpost IMAP ready"
    # ID (RFC 2971 §3.3): what the server says of itself.
    server_id: tuple[tuple[str, str], ...] = (("name", "Localpost"),)
