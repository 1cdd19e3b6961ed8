"""The listening side: accepts connections, enforces connection caps, stops gracefully."""

from __future__ import annotations

import asyncio
import logging
import ssl
from types import TracebackType
from typing import Any

from smtplib_common import replies
from smtplib_common.replies import Reply
from smtplib_common.server.config import ServerConfig
from smtplib_common.server.handler import Hooks
from smtplib_common.server.peers import PeerLimits
from smtplib_common.server.protocol import SMTPConnection
from smtplib_common.server.throttle import AuthFailures

log = logging.getLogger(__name__)


class SMTPServer:
    """An SMTP listener driving a handler (see :mod:`smtplib_common.server.handler`).

    ``tls_context`` enables STARTTLS (RFC 3207); with ``implicit_tls=True`` the
    listener speaks TLS from the first byte instead (RFC 8314 §3, port 465).

    ``peer_limits`` counts connections per source address; give several
    listeners the same one for the limits to hold across them (its own limits
    then apply, not this config's). Without it the listener makes its own from
    ``config``.
    """

    def __init__(
        self,
        handler: Any,
        config: ServerConfig | None = None,
        *,
        tls_context: ssl.SSLContext | None = None,
        implicit_tls: bool = False,
        peer_limits: PeerLimits | None = None,
    ) -> None:
        if implicit_tls and tls_context is None:
            raise ValueError("implicit_tls needs a tls_context")
        self.config = config or ServerConfig()
        self.hooks = Hooks.of(handler)
        self.tls_context = None if implicit_tls else tls_context
        self._implicit_context = tls_context if implicit_tls else None
        self._server: asyncio.Server | None = None
        self._connections: set[SMTPConnection] = set()
        self.peer_limits = peer_limits or PeerLimits.from_config(self.config)
        # Failed AUTHs per peer across all of this listener's connections.
        cfg = self.config
        self.auth_failures = (
            AuthFailures(
                limit=cfg.auth_throttle_failures,
                window=cfg.auth_throttle_window,
                max_peers=cfg.auth_throttle_peers,
            )
            if cfg.auth_throttle_failures is not None
            else None
        )
        self.closing = False

    # --- lifecycle --------------------------------------------------------

    async def start(self, host: str | None = "127.0.0.1", port: int = 0) -> None:
        """Start listening; ``port=0`` picks a free port (see :attr:`port`)."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: SMTPConnection(self),
            host,
            port,
            ssl=self._implicit_context,
            backlog=1024,
            reuse_address=True,
        )
        log.info("SMTP listening on %s", ", ".join(map(str, self.addresses)))

    async def serve_forever(self) -> None:
        assert self._server is not None, "call start() first"
        await self._server.serve_forever()

    async def stop(self, grace: float = 10.0) -> None:
        """Stop accepting, let transactions in flight finish (up to ``grace``
        seconds), answer idle sessions with 421 (RFC 5321 §3.8), then close."""
        self.closing = True
        if self._server is not None:
            self._server.close()
        for conn in list(self._connections):
            conn.shutdown()
        tasks = [c.task for c in self._connections if c.task is not None]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=grace)
            for conn in list(self._connections):
                conn.abort()
            if pending:
                await asyncio.wait(pending, timeout=1.0)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> SMTPServer:
        if self._server is None:
            await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # --- introspection ----------------------------------------------------

    @property
    def addresses(self) -> list[tuple[str, int]]:
        if self._server is None:
            return []
        return [sock.getsockname()[:2] for sock in self._server.sockets]

    @property
    def port(self) -> int:
        return self.addresses[0][1]

    @property
    def connection_count(self) -> int:
        return len(self._connections)

    # --- connection accounting (called by SMTPConnection) ------------------

    def _admit(self, conn: SMTPConnection) -> Reply | None:
        cfg = self.config
        if self.closing:
            return replies.SERVICE_UNAVAILABLE
        if len(self._connections) >= cfg.max_connections:
            return replies.TOO_MANY_CONNECTIONS
        refusal = self.peer_limits.admit(conn.session.peer_ip)
        if refusal is None:
            self._connections.add(conn)
        return refusal

    def _release(self, conn: SMTPConnection) -> None:
        if conn not in self._connections:
            return  # released already (failed TLS handshake, then connection_lost)
        self._connections.discard(conn)
        self.peer_limits.release(conn.session.peer_ip)
