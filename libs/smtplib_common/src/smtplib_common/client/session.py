"""``SMTPSession``: connecting and setting up a session with one SMTP server.

Greeting, EHLO/HELO, STARTTLS and AUTH live here, with the commands that do
not belong to a transaction (RSET, NOOP, QUIT) and the plumbing that keeps the
dialogue in step. :class:`~.connection.SMTPClient` adds the mail transaction.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from types import MappingProxyType, TracebackType
from typing import Self

from smtplib_common.client import auth, commands
from smtplib_common.client.response import Response, auth_mechanisms, parse_ehlo
from smtplib_common.client.transport import Channel, Timeouts
from smtplib_common.errors import (
    SMTPConnectError,
    SMTPError,
    SMTPNotSupported,
    SMTPResponseError,
    SMTPServerDisconnected,
    SMTPUnexpectedReply,
)

__all__ = ["SMTPSession"]

log = logging.getLogger(__name__)

_DEFAULT = Timeouts()


# RFC 3030 sets no chunk size; 64 KiB keeps each BDAT write one socket buffer's worth.
DEFAULT_BDAT_CHUNK = 64 * 1024


class SMTPSession:
    """Connection, session set-up and the dialogue plumbing of :class:`SMTPClient`."""

    def __init__(
        self,
        host: str,
        port: int = 25,
        *,
        local_hostname: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        implicit_tls: bool = False,
        starttls: bool = False,
        username: str | None = None,
        password: str | None = None,
        auth_mechanism: str | None = None,
        use_bdat: bool = False,
        bdat_chunk_size: int = DEFAULT_BDAT_CHUNK,
        connect_timeout: float = _DEFAULT.connect,
        timeout: float = _DEFAULT.reply,
        data_timeout: float = _DEFAULT.data_end,
    ) -> None:
        if implicit_tls and starttls:
            raise ValueError("implicit_tls and starttls exclude each other")
        if (username is None) != (password is None):
            raise ValueError("give both username and password, or neither")
        if bdat_chunk_size < 1:
            raise ValueError("bdat_chunk_size must be positive")
        self.host = host
        self.port = port
        self.local_hostname = local_hostname
        self.implicit_tls = implicit_tls
        self.starttls_required = starttls
        self.timeouts = Timeouts(connect=connect_timeout, reply=timeout, data_end=data_timeout)
        self._ssl_context = ssl_context
        self._credentials: tuple[str, str] | None = None
        if username is not None and password is not None:
            self._credentials = (username, password)
        self._auth_mechanism = auth_mechanism
        # Used by SMTPClient's sends; kept here so that one __init__ holds every option.
        self.use_bdat = use_bdat
        self.bdat_chunk_size = bdat_chunk_size
        self._channel: Channel | None = None
        self._extensions: dict[str, str] = {}
        self._esmtp = False
        self._authenticated = False
        self._in_transaction = False
        self.greeting: Response | None = None

    def __repr__(self) -> str:
        # Credentials stay out: reprs end up in logs and tracebacks.
        state = "connected" if self.is_connected else "closed"
        return f"<{type(self).__name__} {self.host}:{self.port} {state} tls={self.is_tls}>"

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._quit_quietly()

    # --- state --------------------------------------------------------------

    @property
    def is_connected(self) -> bool:
        return self._channel is not None and self._channel.is_open

    @property
    def is_reusable(self) -> bool:
        """Connected, outside a transaction, and the server has said nothing unasked.

        A server that times an idle session out sends 421 and closes (RFC 5321
        §3.8); those bytes sit unread until the next command would take them
        for its own reply, so a pool checks this before handing a client out.
        """
        channel = self._channel
        return (
            channel is not None
            and channel.is_open
            and not channel.has_unread_data
            and not self._in_transaction
        )

    @property
    def is_tls(self) -> bool:
        return self._channel is not None and self._channel.is_tls

    @property
    def is_esmtp(self) -> bool:
        """True after a successful EHLO, False after the HELO fallback."""
        return self._esmtp

    @property
    def is_authenticated(self) -> bool:
        return self._authenticated

    @property
    def extensions(self) -> Mapping[str, str]:
        """EHLO keywords (upper-case) -> parameters, from the latest EHLO."""
        return MappingProxyType(self._extensions)

    def supports(self, extension: str) -> bool:
        """Whether the latest EHLO offered ``extension`` (any case)."""
        return extension.upper() in self._extensions

    @property
    def max_message_size(self) -> int | None:
        """The SIZE limit the server announced (RFC 1870 §4); None when unlimited."""
        size = self._extensions.get("SIZE", "")
        return int(size) if size.isdigit() and int(size) > 0 else None

    # --- connecting ---------------------------------------------------------

    async def connect(self) -> Response:
        """Connect, read the greeting, then EHLO, STARTTLS and AUTH as configured."""
        if self.is_connected:
            raise RuntimeError("already connected")
        self._reset_session()
        self._channel = await Channel.open(
            self.host,
            self.port,
            ssl_context=self._tls_context() if self.implicit_tls else None,
            server_hostname=self.host,
            timeouts=self.timeouts,
        )
        try:
            async with self._guard("greeting"):
                greeting = await self._require().read_response(greeting=True)
            if greeting.code not in commands.GREETING:
                # RFC 5321 §3.1: a 554 greeting refuses service; we QUIT and go.
                raise SMTPConnectError(f"{self.host} refused the session", response=greeting)
            self.greeting = greeting
            await self.ehlo_or_helo()
            if self.starttls_required:
                await self.starttls()
            if self._credentials is not None:
                await self.login(*self._credentials, mechanism=self._auth_mechanism)
        except SMTPError:
            await self._quit_quietly()
            raise
        except BaseException:
            self._abort()
            raise
        return greeting

    async def close(self) -> None:
        """Close the connection without QUIT; safe to call more than once."""
        channel, self._channel = self._channel, None
        if channel is not None:
            await channel.close()

    async def quit(self) -> Response:
        """QUIT and close the connection (RFC 5321 §4.1.1.10)."""
        try:
            return await self.execute(b"QUIT\r\n", command="QUIT", expected=commands.QUIT)
        finally:
            await self.close()

    # --- session set-up -----------------------------------------------------

    async def ehlo(self, hostname: str | None = None) -> Response:
        """EHLO (RFC 5321 §4.1.1.1); records the offered extensions."""
        line = commands.command_line("EHLO", hostname or self._hello_name())
        response = await self.execute(line, command="EHLO", expected=commands.EHLO)
        self._extensions = parse_ehlo(response)
        self._esmtp = True
        return response

    async def helo(self, hostname: str | None = None) -> Response:
        """HELO: a plain SMTP session, no extensions."""
        line = commands.command_line("HELO", hostname or self._hello_name())
        response = await self.execute(line, command="HELO", expected=commands.EHLO)
        self._extensions = {}
        self._esmtp = False
        return response

    async def ehlo_or_helo(self) -> Response:
        """EHLO, falling back to HELO when EHLO is refused with 5xx (RFC 5321 §3.2)."""
        try:
            return await self.ehlo()
        except SMTPResponseError as exc:
            if not exc.response.is_permanent or isinstance(exc, SMTPUnexpectedReply):
                raise
            log.debug("%s refused EHLO (%s); trying HELO", self.host, exc.response)
        return await self.helo()

    async def starttls(self) -> Response:
        """STARTTLS (RFC 3207), then EHLO again, forgetting what was learnt before."""
        if not self.supports("STARTTLS"):
            raise SMTPNotSupported(f"{self.host} does not offer STARTTLS", extension="STARTTLS")
        response = await self.execute(
            b"STARTTLS\r\n", command="STARTTLS", expected=commands.STARTTLS
        )
        async with self._guard("STARTTLS"):
            await self._require().start_tls(self._tls_context(), server_hostname=self.host)
        # RFC 3207 §4.2: the extension list may differ inside TLS (AUTH often
        # only appears there), so nothing from the clear-text EHLO is kept.
        self._extensions = {}
        self._esmtp = False
        await self.ehlo()
        return response

    async def login(
        self, username: str, password: str, *, mechanism: str | None = None
    ) -> Response:
        """AUTH PLAIN or LOGIN (RFC 4954): ``mechanism`` or the best one offered."""
        if not self.supports("AUTH"):
            raise SMTPNotSupported(f"{self.host} does not offer AUTH", extension="AUTH")
        chosen = auth.choose_mechanism(auth_mechanisms(self._extensions), mechanism)
        async with self._guard(f"AUTH {chosen}"):
            response = await auth.authenticate(
                self._require(),
                mechanism=chosen,
                username=username,
                password=password,
            )
        self._authenticated = True
        return response

    # --- commands outside a transaction -------------------------------------

    async def rset(self) -> Response:
        """RSET: abandon the current transaction (RFC 5321 §4.1.1.5)."""
        response = await self.execute(b"RSET\r\n", command="RSET", expected=commands.RSET)
        self._in_transaction = False
        return response

    async def noop(self) -> Response:
        """NOOP (RFC 5321 §4.1.1.9); a cheap check that the session is alive."""
        return await self.execute(b"NOOP\r\n", command="NOOP", expected=commands.NOOP)

    async def execute(
        self,
        line: bytes,
        *,
        command: str,
        expected: frozenset[int],
        refused: commands.Refusal | None = None,
    ) -> Response:
        """Send one command line and check its reply against ``expected``."""
        async with self._guard(command):
            channel = self._require()
            if line[:4].upper() == b"AUTH":
                log.debug("C: AUTH [credentials]")
            else:
                log.debug("C: %s", line.rstrip(b"\r\n").decode("utf-8", "replace"))
            await channel.send(line)
            response = await channel.read_response()
            return commands.check(response, command=command, expected=expected, refused=refused)

    # --- plumbing -----------------------------------------------------------

    def _require(self) -> Channel:
        if self._channel is None or not self._channel.is_open:
            raise SMTPServerDisconnected(f"not connected to {self.host}:{self.port}")
        return self._channel

    @asynccontextmanager
    async def _guard(self, command: str) -> AsyncIterator[None]:
        """Drop the connection whenever the dialogue can no longer be trusted."""
        try:
            yield
        except SMTPResponseError as exc:
            # A reply the command never gives means we are out of step; 421
            # means the server is closing the channel (RFC 5321 §3.8).
            if isinstance(exc, SMTPUnexpectedReply) or exc.code == 421:
                await self.close()
            raise
        except SMTPError:
            await self.close()  # timeouts and EOF already aborted the channel
            raise
        except BaseException:
            # Cancelled (or a bug) half-way through a command: a reply may be
            # in flight, and the next command would read it as its own.
            log.debug("%s: connection dropped during %s", self.host, command)
            self._abort()
            raise

    def _abort(self) -> None:
        channel, self._channel = self._channel, None
        if channel is not None:
            channel.abort()

    async def _quit_quietly(self) -> None:
        """QUIT if we still can, then close; for clean-up paths."""
        if self.is_connected:
            try:
                await self.quit()
            except SMTPError as exc:
                log.debug("QUIT to %s failed: %s", self.host, exc)
        await self.close()

    def _reset_session(self) -> None:
        self._extensions = {}
        self._esmtp = False
        self._authenticated = False
        self._in_transaction = False
        self.greeting = None

    def _tls_context(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            # Built on first use, not at import: it reads the system CA store.
            self._ssl_context = ssl.create_default_context()
        return self._ssl_context

    def _hello_name(self) -> str:
        # RFC 5321 §4.1.4: an FQDN or else an address literal; our own socket
        # address needs no blocking DNS lookup (socket.getfqdn would).
        if self.local_hostname:
            return self.local_hostname
        address = self._channel.local_address if self._channel else None
        host = address[0] if address else "127.0.0.1"
        return f"[IPv6:{host}]" if ":" in host else f"[{host}]"
