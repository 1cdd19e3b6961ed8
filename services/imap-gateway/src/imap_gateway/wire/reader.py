"""Reading commands from an asyncio stream: :class:`CommandFramer` driven by the network.

The reader never holds more than the framer allows: it asks the stream for at
most :meth:`CommandFramer.wanted` bytes at a time (never past the end of a
literal), so a literal bomb is refused before its bytes are read.

Slowloris is the session's concern, but every read takes an optional
``deadline`` (event-loop time, as :func:`asyncio.timeout_at`), so the session can
bound how long one command may take to arrive: RFC 9051 §5.4 lets a server drop
an idle client after at least 30 minutes, and a command trickling in is no
better than an idle one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from imap_gateway.wire import codes
from imap_gateway.wire.errors import ConnectionClosed
from imap_gateway.wire.framing import CommandFramer, RawCommand, Wait
from imap_gateway.wire.limits import WireLimits

SendContinuation = Callable[[], Awaitable[None]]


def continuation_sender(
    writer: asyncio.StreamWriter, text: str = codes.READY_FOR_LITERAL
) -> SendContinuation:
    """A callback that sends ``+ <text>`` (RFC 9051 §7.5) and waits until it is written."""
    line = b"+ " + text.encode("ascii") + b"\r\n"

    async def send() -> None:
        writer.write(line)
        await writer.drain()

    return send


class CommandReader:
    """Reads whole commands, and bare lines, off one connection."""

    def __init__(
        self,
        stream: asyncio.StreamReader,
        send_continuation: SendContinuation,
        limits: WireLimits | None = None,
    ) -> None:
        self.stream = stream
        self.send_continuation = send_continuation
        self.framer = CommandFramer(limits or WireLimits())

    async def read_command(self, *, deadline: float | None = None) -> RawCommand:
        """The next whole command; sends a continuation before each synchronizing literal.

        Raises a :class:`~imap_gateway.wire.errors.FramingError` for a command over a
        limit (answer it, then follow its ``recovery``), :class:`ConnectionClosed`
        at end of stream, :class:`TimeoutError` once ``deadline`` has passed.
        """
        async with asyncio.timeout_at(deadline):
            while True:
                event = self.framer.next()
                if isinstance(event, RawCommand):
                    return event
                if event is Wait.CONTINUATION:
                    await self.send_continuation()
                    self.framer.continuation_sent()
                    continue
                await self._fill()

    async def read_line(self, *, deadline: float | None = None) -> bytes:
        """One bare line without its CRLF: a SASL response (RFC 9051 §6.2.2) or DONE."""
        async with asyncio.timeout_at(deadline):
            while True:
                event = self.framer.next_line()
                if isinstance(event, bytes):
                    return event
                await self._fill()

    async def _fill(self) -> None:
        data = await self.stream.read(self.framer.wanted())
        if not data:
            raise ConnectionClosed(
                "connection closed mid-command" if not self.framer.idle else "connection closed"
            )
        self.framer.feed(data)
