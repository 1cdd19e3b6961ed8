"""Reading CRLF-ended lines from a POP3 client, each bounded in length.

Its own buffer, not the StreamReader's, so that the session can tell whether the
client sent anything past a line (STLS must be the last thing sent in the clear).
"""

from __future__ import annotations

import asyncio

READ_SIZE = 64 * 1024


class LineTooLong(Exception):
    """A line longer than the reader's limit; the rest of it is not read."""


class ClientGone(ConnectionError):
    """The client closed the connection (in the middle of a line or between lines)."""


class LineReader:
    def __init__(self, stream: asyncio.StreamReader, max_line: int) -> None:
        self.stream = stream
        self.max_line = max_line
        self._buffer = bytearray()

    @property
    def pending(self) -> bool:
        """Whether octets the client sent are waiting, unread."""
        return bool(self._buffer)

    async def readline(self) -> bytes:
        """The next line with its line end (CRLF, or a bare LF, which is tolerated)."""
        while True:
            end = self._buffer.find(b"\n")
            if end >= 0:
                line = bytes(self._buffer[: end + 1])
                del self._buffer[: end + 1]
                if len(line) > self.max_line:
                    raise LineTooLong(len(line))
                return line
            if len(self._buffer) > self.max_line:
                raise LineTooLong(len(self._buffer))
            chunk = await self.stream.read(READ_SIZE)
            if not chunk:
                raise ClientGone("the client closed the connection")
            self._buffer += chunk
