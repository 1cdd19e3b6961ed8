"""The service's listeners: IMAP with STARTTLS (IMAP_PORT) and implicit TLS (IMAPS_PORT),
POP3 with STLS (POP3_PORT) and implicit TLS (POP3S_PORT).

The IMAP ones serve :func:`imap_gateway.session.connection_handler`, the POP3 ones
:func:`imap_gateway.pop3.pop3_handler`, all behind the per-source connection limit:
one :class:`~imap_gateway.limits.SourceLimits` serves every port, so a source's
connections are counted across them, and a stop ends every session.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import ssl
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from imap_gateway import backend as bk
from imap_gateway.limits import SOURCE, SourceLimits
from imap_gateway.metrics import Metrics, ObservedPop3Sessions, ObservedSessions
from imap_gateway.pop3 import Pop3Settings, pop3_handler
from imap_gateway.pop3 import replies as pop3_replies
from imap_gateway.session import SessionSettings, connection_handler
from imap_gateway.session.connection import ConnectionHandler, peer_host
from imap_gateway.settings import Config, IPNetwork, TLSFiles
from imap_gateway.wire import codes, encoder
from imap_gateway.wire.limits import WireLimits

log = logging.getLogger(__name__)

# The BYE (IMAP) or -ERR (POP3, when a command was in flight) of a disabled account's
# sessions.
ACCOUNT_DISABLED = "Account disabled by an administrator"

IMAP = "imap"
IMAPS = "imaps"
POP3 = "pop3"
POP3S = "pop3s"
TOO_MANY = "Too many connections from your address"
# RFC 9051 §7.1.5: a server may greet with BYE to refuse a connection; RFC 5530
# UNAVAILABLE says it is temporary. POP3's -ERR greeting, RFC 3206 SYS/TEMP likewise.
IMAP_REFUSAL = encoder.status_line(None, codes.BYE, TOO_MANY, codes.UNAVAILABLE)
POP3_REFUSAL = pop3_replies.err(TOO_MANY, pop3_replies.SYS_TEMP)


@dataclass
class Listeners:
    """Both listeners (``imaps`` only with TLS files), not yet listening until start."""

    handlers: dict[str, tuple[ConnectionHandler, ssl.SSLContext | None]]
    sessions: ObservedSessions
    handshake_timeout: float
    pop3_sessions: ObservedPop3Sessions | None = None
    servers: dict[str, asyncio.Server] = field(default_factory=dict)
    closing: bool = False

    def port(self, listener: str) -> int:
        port: int = self.servers[listener].sockets[0].getsockname()[1]
        return port

    async def start(self, host: str, ports: dict[str, int]) -> None:
        try:
            for name, (handler, context) in self.handlers.items():
                self.servers[name] = await asyncio.start_server(
                    handler,
                    host,
                    ports[name],
                    ssl=context,
                    ssl_handshake_timeout=self.handshake_timeout if context else None,
                )
        except OSError:
            await self.stop(grace=0)
            raise

    def end_account(self, account: str) -> None:
        """End the IMAP and POP3 sessions of ``account``: an administrator disabled it
        (the mail store's ``disabled`` event), and a disabled account reads nothing."""
        ended = self.sessions.end_account(account, ACCOUNT_DISABLED)
        if self.pop3_sessions is not None:
            ended += self.pop3_sessions.end_account(account, ACCOUNT_DISABLED)
        if ended:
            log.info("ended %d session(s) of %r: the account is disabled", ended, account)

    async def stop(self, grace: float) -> None:
        """Stop accepting, let commands in flight finish within ``grace``, BYE the rest."""
        self.closing = True
        for server in self.servers.values():
            server.close()
        stops = [self.sessions.stop(grace)]
        if self.pop3_sessions is not None:
            stops.append(self.pop3_sessions.stop(grace))
        await asyncio.gather(*stops)
        for server in self.servers.values():
            await server.wait_closed()


def tls_context(files: TLSFiles) -> ssl.SSLContext:
    """The server side of STARTTLS and implicit TLS; reads the certificate and key files."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    # RFC 8996 retires TLS 1.0 and 1.1; RFC 8314 §4.1 asks for TLS 1.2 or later.
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(files.cert, files.key)
    return context


def session_settings(config: Config, context: ssl.SSLContext | None) -> SessionSettings:
    default = WireLimits()
    wire = WireLimits(
        max_literal_size=config.append_limit,
        # MULTIAPPEND of one message at the limit must still fit in a command.
        max_command_size=max(default.max_command_size, config.append_limit),
        max_discard=max(default.max_discard, config.append_limit),
        max_nonsync_literal=None if config.literal_plus else default.max_nonsync_literal,
    )
    return SessionSettings(
        idle_timeout=config.idle_timeout,
        command_timeout=config.command_timeout,
        login_timeout=config.login_timeout,
        commands_per_second=config.commands_per_second,
        command_burst=config.command_burst,
        wire=wire,
        tls_context=context,
    )


def pop3_settings(config: Config, context: ssl.SSLContext | None) -> Pop3Settings:
    return Pop3Settings(
        login_timeout=config.login_timeout,
        commands_per_second=config.commands_per_second,
        command_burst=config.command_burst,
        tls_context=context,
    )


def trusted_by(networks: tuple[IPNetwork, ...]) -> Callable[[str], bool]:
    """Whether a peer address is in ``networks`` (an IPv4-mapped address as IPv4)."""

    def trusted(host: str) -> bool:
        try:
            ip = ipaddress.ip_address(host.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in network for network in networks)

    return trusted


def build(config: Config, *, backend: bk.Backend, metrics: Metrics) -> Listeners:
    """Every listener, not yet listening. Reads the TLS files when they are configured."""
    context = tls_context(config.tls) if config.tls is not None else None
    sessions = ObservedSessions(metrics)
    sources = SourceLimits(config.max_connections_per_source)
    trusted = trusted_by(config.trusted_networks)
    open_now: Counter[str] = Counter()
    pop3_sessions = ObservedPop3Sessions(metrics)
    imap_settings, pop3 = session_settings(config, context), pop3_settings(config, context)

    def serve(implicit: bool, name: str) -> tuple[ConnectionHandler, bytes]:
        if name in (IMAP, IMAPS):
            imap = connection_handler(
                backend, imap_settings, trusted=trusted, tls=implicit, events=sessions
            )
            return imap, IMAP_REFUSAL
        handler = pop3_handler(backend, pop3, trusted=trusted, tls=implicit, events=pop3_sessions)
        return handler, POP3_REFUSAL

    handlers: dict[str, tuple[ConnectionHandler, ssl.SSLContext | None]] = {}
    for name, implicit in ((IMAP, False), (IMAPS, True), (POP3, False), (POP3S, True)):
        if implicit and context is None:
            continue  # RFC 8314 §3.3: implicit TLS only with a certificate to offer
        session, refusal = serve(implicit, name)
        handlers[name] = (
            _admitting(
                session, name, sources=sources, metrics=metrics, open_now=open_now,
                refusal=refusal,
            ),
            context if implicit else None,
        )  # fmt: skip
        metrics.track_open_connections(name, lambda name=name: open_now[name])  # type: ignore[misc]
    return Listeners(
        handlers, sessions, handshake_timeout=config.command_timeout, pop3_sessions=pop3_sessions
    )


def _admitting(
    session: ConnectionHandler,
    listener: str,
    *,
    sources: SourceLimits,
    metrics: Metrics,
    open_now: Counter[str],
    refusal: bytes,
) -> ConnectionHandler:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        metrics.connections.labels(listener=listener).inc()
        host = peer_host(writer)
        if not sources.admit(host):
            metrics.count_limit_refusal(SOURCE)
            # Counted in /metrics; a debug line only, so a flood cannot flood the log.
            log.debug("%s refused on %s: too many connections", host, listener)
            await _refuse(writer, refusal)
            return
        open_now[listener] += 1
        try:
            await session(reader, writer)
        finally:
            open_now[listener] -= 1
            sources.release(host)

    return handle


async def _refuse(writer: asyncio.StreamWriter, refusal: bytes) -> None:
    writer.write(refusal)
    writer.close()
    with contextlib.suppress(ConnectionError, TimeoutError, ssl.SSLError):
        await writer.wait_closed()
