"""The byte stream under the client: connect, write, read one reply, upgrade to TLS.

Every I/O failure is turned into an :mod:`smtplib_common.errors` exception
here, and every failure that leaves the dialogue in an unknown state (timeout,
EOF, unparseable reply) aborts the connection first: a reply that arrives late
would otherwise be read as the answer to the next command.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from dataclasses import dataclass

from smtplib_common.client.response import (
    MAX_REPLY_LINE,
    MAX_REPLY_LINES,
    Response,
    build_response,
    parse_reply_line,
)
from smtplib_common.errors import (
    SMTPConnectError,
    SMTPError,
    SMTPMalformedReply,
    SMTPServerDisconnected,
    SMTPTimeoutError,
)

__all__ = ["CLOSE_TIMEOUT", "Channel", "Timeouts"]

log = logging.getLogger(__name__)

# How long a polite close may wait for the peer's TLS close_notify.
CLOSE_TIMEOUT = 5.0


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds the client waits; figures from RFC 5321 §4.5.3.2.

    ``connect`` covers TCP, the TLS handshake and the greeting (§4.5.3.2.1
    allows 5 minutes for the greeting; a connect has no RFC figure, and a
    caller wants to fail over to the next MX sooner). ``reply`` bounds every
    write and every other reply (§4.5.3.2.2-5: 2 to 5 minutes). ``data_end``
    is the wait for the reply to the end of the message (§4.5.3.2.6: 10 minutes,
    because the server may deliver before it answers).
    """

    connect: float = 30.0
    reply: float = 300.0
    data_end: float = 600.0


class Channel:
    """One open connection to an SMTP server; not safe for concurrent use."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, timeouts: Timeouts
    ) -> None:
        self._reader = reader
        self._writer = writer
        self.timeouts = timeouts

    @classmethod
    async def open(
        cls,
        host: str,
        port: int,
        *,
        ssl_context: ssl.SSLContext | None,
        server_hostname: str | None,
        timeouts: Timeouts,
    ) -> Channel:
        """Open TCP (and, with ``ssl_context``, implicit TLS, RFC 8314 §3.3)."""
        timeout = timeouts.connect
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(
                    host,
                    port,
                    ssl=ssl_context,
                    server_hostname=server_hostname if ssl_context else None,
                    limit=MAX_REPLY_LINE,
                )
        except TimeoutError as exc:
            raise SMTPTimeoutError(f"connecting to {host}:{port} took over {timeout}s") from exc
        except OSError as exc:  # refused, unreachable, DNS, TLS handshake (SSLError)
            raise SMTPConnectError(f"cannot connect to {host}:{port}: {exc}") from exc
        return cls(reader, writer, timeouts)

    @property
    def is_open(self) -> bool:
        return not self._writer.transport.is_closing() and not self._reader.at_eof()

    @property
    def has_unread_data(self) -> bool:
        """Bytes received but not yet read; between commands, a server's 421 (§3.8)."""
        # StreamReader has no public way to peek at its buffer.
        return bool(getattr(self._reader, "_buffer", b""))

    @property
    def is_tls(self) -> bool:
        return self._writer.get_extra_info("sslcontext") is not None

    @property
    def local_address(self) -> tuple[str, int] | None:
        sockname = self._writer.get_extra_info("sockname")
        return (str(sockname[0]), int(sockname[1])) if sockname else None

    async def send(self, data: bytes) -> None:
        """Write ``data`` and wait until the kernel has taken it."""
        timeout = self.timeouts.reply
        if self._writer.transport.is_closing():
            raise SMTPServerDisconnected("connection is closed")
        try:
            self._writer.write(data)
            async with asyncio.timeout(timeout):
                await self._writer.drain()
        except TimeoutError as exc:
            self.abort()
            raise SMTPTimeoutError(f"sending to the server took over {timeout}s") from exc
        except OSError as exc:  # ConnectionResetError, BrokenPipeError
            self.abort()
            raise SMTPServerDisconnected(f"connection lost while sending: {exc}") from exc

    async def read_response(self, *, data_end: bool = False, greeting: bool = False) -> Response:
        """Read one complete (possibly multi-line) reply.

        ``data_end`` and ``greeting`` pick the longer waits of :class:`Timeouts`.
        """
        timeout = self.timeouts.reply
        if data_end:
            timeout = self.timeouts.data_end
        elif greeting:
            timeout = self.timeouts.connect
        try:
            async with asyncio.timeout(timeout):
                response = await self._read_lines()
        except TimeoutError as exc:
            self.abort()
            raise SMTPTimeoutError(f"no reply from the server within {timeout}s") from exc
        except SMTPError:
            self.abort()
            raise
        log.debug("S: %s", response)
        return response

    async def _read_lines(self) -> Response:
        code: int | None = None
        texts: list[str] = []
        while True:
            try:
                line = await self._reader.readuntil(b"\n")
            except asyncio.IncompleteReadError as exc:
                raise SMTPServerDisconnected("connection closed by the server") from exc
            except asyncio.LimitOverrunError as exc:
                raise SMTPMalformedReply(f"reply line longer than {MAX_REPLY_LINE} octets") from exc
            except OSError as exc:
                raise SMTPServerDisconnected(f"connection lost while reading: {exc}") from exc
            line_code, last, text = parse_reply_line(line)
            if code is not None and line_code != code:
                raise SMTPMalformedReply("reply code changed within a reply", line=line)
            code = line_code
            texts.append(text)
            if last:
                return build_response(code, texts)
            if len(texts) >= MAX_REPLY_LINES:
                raise SMTPMalformedReply(f"reply longer than {MAX_REPLY_LINES} lines", line=line)

    async def start_tls(self, ssl_context: ssl.SSLContext, *, server_hostname: str) -> None:
        """Upgrade to TLS after the server's 220 to STARTTLS (RFC 3207 §4)."""
        # Anything already buffered was sent in clear text after the 220 and
        # would be read as a reply from inside TLS: a man in the middle's
        # "response injection". RFC 3207 §4.2 makes the client discard all
        # knowledge not obtained over TLS, so such bytes end the connection.
        if self.has_unread_data:
            self.abort()
            raise SMTPMalformedReply("data after the 220 reply to STARTTLS (injection?)")
        timeout = self.timeouts.connect
        try:
            async with asyncio.timeout(timeout):
                await self._writer.start_tls(ssl_context, server_hostname=server_hostname)
        except TimeoutError as exc:
            self.abort()
            raise SMTPTimeoutError(f"TLS handshake took over {timeout}s") from exc
        except OSError as exc:  # ssl.SSLError, e.g. certificate verify failed
            self.abort()
            raise SMTPConnectError(f"TLS handshake failed: {exc}") from exc

    def abort(self) -> None:
        """Drop the connection now, without a TLS close_notify or a QUIT."""
        self._writer.transport.abort()

    async def close(self) -> None:
        """Close politely, waiting a little for the TLS shutdown to finish."""
        self._writer.close()
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT):
                await self._writer.wait_closed()
        except (TimeoutError, OSError):
            # The peer is gone or slow to answer close_notify; nothing to keep.
            self.abort()
