"""A small asyncio IMAP client for the IMAP benchmark: one command at a time, or IDLE.

The same client drives Localpost's IMAP gateway and Dovecot, so that whatever it costs
falls on both. It reads each response whole, with every literal it announces (RFC 9051
§4.3), counts the octets it read, keeps the selected mailbox's size from each untagged
EXISTS, and sends APPEND's message as a non-synchronizing literal ``{n+}`` up to 4,096
octets (RFC 7888: LITERAL+ and LITERAL-), a synchronizing one beyond.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from dataclasses import dataclass, field

_LITERAL_END = re.compile(rb"\{([0-9]+)\}\r\n\Z")
# A response line may be long (an ENVELOPE); literals are read apart, by their size.
LINE_LIMIT = 16 * 2**20
LITERAL_MINUS = 4096


class IMAPFailure(RuntimeError):
    """A tagged answer other than OK, or a connection that closed mid-response."""


@dataclass
class Answer:
    untagged: list[bytes]
    tagged: bytes
    octets: int


@dataclass
class IMAPConnection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    greeting: bytes
    octets_read: int = 0
    _tag: int = 0
    # The selected mailbox's size as the server last told it (untagged EXISTS).
    count: int = 0
    # When each untagged EXISTS arrived during IDLE (perf_counter) and its count.
    exists: list[tuple[float, int]] = field(default_factory=list)

    @classmethod
    async def open(cls, host: str, port: int) -> IMAPConnection:
        reader, writer = await asyncio.open_connection(host, port, limit=LINE_LIMIT)
        connection = cls(reader, writer, b"")
        connection.greeting = await connection.read_response()
        if not connection.greeting.startswith(b"* OK"):
            writer.close()
            raise IMAPFailure(f"greeting {connection.greeting[:200]!r}")
        return connection

    async def read_response(self) -> bytes:
        """One response with every literal it announces, CRLFs kept."""
        parts = [await self._line()]
        while (announced := _LITERAL_END.search(parts[-1])) is not None:
            size = int(announced.group(1))
            parts.append(await self.reader.readexactly(size))
            self.octets_read += size
            parts.append(await self._line())
        return b"".join(parts)

    async def _line(self) -> bytes:
        line = await self.reader.readline()
        if not line.endswith(b"\n"):
            raise IMAPFailure(f"connection closed: {line[:200]!r}")
        self.octets_read += len(line)
        return line

    def _next_tag(self) -> bytes:
        self._tag += 1
        return b"b%d" % self._tag

    async def command(self, text: str, literal: bytes | None = None) -> Answer:
        """``tag text`` (then ``{n+}`` and the literal); raises unless the answer is OK."""
        tag = self._next_tag()
        line = tag + b" " + text.encode()
        started = self.octets_read
        untagged: list[bytes] = []
        if literal is not None and len(literal) > LITERAL_MINUS:
            # RFC 7888 §4: past 4,096 octets a LITERAL- server wants the synchronizing form.
            self.writer.write(line + b" {%d}\r\n" % len(literal))
            while not (response := await self.read_response()).startswith(b"+"):
                if response.startswith(tag + b" "):
                    raise IMAPFailure(f"{text[:60]!r}: {response[:300]!r}")
                untagged.append(response)
            line = literal
        elif literal is not None:
            line += b" {%d+}\r\n" % len(literal) + literal
        self.writer.write(line + b"\r\n")
        while True:
            response = await self.read_response()
            if response.startswith(tag + b" "):
                if not response.startswith(tag + b" OK"):
                    raise IMAPFailure(f"{text[:60]!r}: {response[:300]!r}")
                return Answer(untagged, response, self.octets_read - started)
            self._exists(response)
            untagged.append(response)

    async def login(self, user: str, password: str) -> None:
        await self.command(f'LOGIN "{user}" "{password}"')

    async def idle(self) -> bytes:
        """Start IDLE (RFC 2177); returns the tag, for :meth:`done`."""
        tag = self._next_tag()
        self.writer.write(tag + b" IDLE\r\n")
        while not (response := await self.read_response()).startswith(b"+"):
            self._note(response)
        return tag

    async def watch(self) -> None:
        """Read untagged responses during IDLE until cancelled, noting each EXISTS."""
        while True:
            self._note(await self.read_response())

    def _note(self, response: bytes) -> None:
        if (count := self._exists(response)) is not None:
            self.exists.append((time.perf_counter(), count))

    def _exists(self, response: bytes) -> int | None:
        words = response.split(b" ", 3)
        if len(words) >= 3 and words[2].rstrip(b"\r\n").upper() == b"EXISTS":
            self.count = int(words[1])
            return self.count
        return None

    async def done(self, tag: bytes) -> None:
        self.writer.write(b"DONE\r\n")
        while not (response := await self.read_response()).startswith(tag + b" "):
            self._note(response)
        if not response.startswith(tag + b" OK"):
            raise IMAPFailure(f"IDLE: {response[:300]!r}")

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()

    async def logout(self) -> None:
        try:
            await self.command("LOGOUT")
        finally:
            await self.close()
