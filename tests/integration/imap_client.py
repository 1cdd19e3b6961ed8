"""A small asyncio IMAP client for the fault runs: raw commands, every response kept.

imaplib blocks and hides what a server sent when a connection breaks; a fault run
needs many sessions at once and must tell "tagged OK", "tagged NO [code]", "BYE" and
"the connection just ended" apart. Responses are read as RFC 9051 §4.3 frames: a
line ending in ``{n}`` is followed by n octets of literal and then the rest of the
line.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from dataclasses import dataclass, field

# A bound on one answer; a hang is a failure, never a wait for ever.
ANSWER_TIMEOUT = 60.0
# The largest non-synchronizing literal LITERAL- allows (RFC 7888 §5).
NONSYNC_MAX = 4096
_LITERAL = re.compile(rb"\{(\d+)\}\r\n$")
_CODE = re.compile(rb"^\S+ (?:OK|NO|BAD|BYE) \[([^\]]+)\]")


class Closed(Exception):
    """The connection ended before the tagged answer; ``seen`` is what came first."""

    def __init__(self, seen: list[Response]) -> None:
        super().__init__(f"closed after {[r.line[:80] for r in seen]}")
        self.seen = seen


@dataclass
class Response:
    """One response: its text with each literal replaced by ``{n}``, and the literals."""

    line: bytes
    literals: list[bytes] = field(default_factory=list)

    @property
    def status(self) -> bytes:
        """OK / NO / BAD / BYE (or a number's word, e.g. EXISTS) of this response."""
        words = self.line.split(b" ", 3)
        return words[1] if words[0] != b"*" or not words[1].isdigit() else words[2]

    @property
    def code(self) -> str | None:
        found = _CODE.match(self.line)
        return found.group(1).decode() if found else None


@dataclass
class Answer:
    untagged: list[Response]
    tagged: Response

    @property
    def ok(self) -> bool:
        return self.tagged.status == b"OK"

    def expect_ok(self) -> Answer:
        assert self.ok, (self.tagged.line, [r.line[:200] for r in self.untagged])
        return self

    def bye(self) -> Response | None:
        return next((r for r in self.untagged if r.line.startswith(b"* BYE")), None)


class Client:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.tags = 0
        self.greeting: Response | None = None

    @classmethod
    async def connect(cls, host: str, port: int) -> Client:
        reader, writer = await asyncio.open_connection(host, port, limit=2**24)
        client = cls(reader, writer)
        try:
            async with asyncio.timeout(ANSWER_TIMEOUT):
                client.greeting = await client.response()
        except BaseException:
            await client.close()
            raise
        return client

    @classmethod
    async def login(cls, address: tuple[str, int], user: str, password: str) -> Client:
        client = await cls.connect(*address)
        try:
            (await client.command(f'LOGIN "{user}" "{password}"')).expect_ok()
        except BaseException:
            await client.close()
            raise
        return client

    def next_tag(self) -> str:
        self.tags += 1
        return f"t{self.tags}"

    async def response(self) -> Response:
        """The next response, literals read whole; Closed at the end of the stream."""
        try:
            line = await self.reader.readline()
        except ConnectionError:
            raise Closed([]) from None
        if not line.endswith(b"\r\n"):
            raise Closed([])
        response = Response(b"")
        while (found := _LITERAL.search(line)) is not None:
            response.line += line[: found.start()] + b"{" + found.group(1) + b"}"
            response.literals.append(await self.reader.readexactly(int(found.group(1))))
            line = await self.reader.readline()
            if not line.endswith(b"\r\n"):
                raise Closed([])
        response.line += line[:-2]
        return response

    async def answer(self, tag: str) -> Answer:
        """Responses up to the tagged one of ``tag``; Closed (with them) if it never comes."""
        untagged: list[Response] = []
        async with asyncio.timeout(ANSWER_TIMEOUT):
            while True:
                try:
                    response = await self.response()
                except (Closed, asyncio.IncompleteReadError, ConnectionError):
                    raise Closed(untagged) from None
                if response.line.startswith(tag.encode() + b" "):
                    return Answer(untagged, response)
                untagged.append(response)

    async def send(self, text: str | bytes) -> str:
        """Send one command (``text`` without the tag); its tag."""
        tag = self.next_tag()
        data = text.encode() if isinstance(text, str) else text
        self.writer.write(tag.encode() + b" " + data + b"\r\n")
        await self.writer.drain()
        return tag

    async def send_line(self, line: bytes) -> None:
        """A line that is no command (IDLE's DONE)."""
        self.writer.write(line + b"\r\n")
        await self.writer.drain()

    async def command(self, text: str | bytes) -> Answer:
        return await self.answer(await self.send(text))

    async def append(
        self,
        folder: str,
        messages: list[bytes],
        flags: str = "",
        *,
        cut: asyncio.Event | None = None,
    ) -> tuple[Answer, list[int]]:
        """APPEND (MULTIAPPEND for several); the UIDs of APPENDUID (RFC 4315 §3) when OK.

        Literals up to NONSYNC_MAX go as LITERAL- ones, larger ones wait for the
        continuation (RFC 7888 §4). ``cut``: the first large literal is sent in two
        halves, with ``cut`` awaited between them (a fault strikes mid-literal).
        """
        tag = self.next_tag()
        pending = f'{tag} APPEND "{folder}"'.encode()
        for message in messages:
            pending += f" ({flags}) ".encode() if flags else b" "
            if len(message) <= NONSYNC_MAX:
                pending += b"{%d+}\r\n" % len(message) + message
                continue
            self.writer.write(pending + b"{%d}\r\n" % len(message))
            await self.writer.drain()
            async with asyncio.timeout(ANSWER_TIMEOUT):
                try:
                    go_on = await self.response()
                except (Closed, asyncio.IncompleteReadError, ConnectionError):
                    raise Closed([]) from None
            if not go_on.line.startswith(b"+"):
                answer = Answer([], go_on)  # refused before the literal
                return answer, []
            if cut is not None:
                half = len(message) // 2
                self.writer.write(message[:half])
                await self.writer.drain()
                await cut.wait()
                message, cut = message[half:], None
            self.writer.write(message)
            pending = b""
        self.writer.write(pending + b"\r\n")
        await self.writer.drain()
        answer = await self.answer(tag)
        return answer, appenduids(answer)

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()

    async def logout(self) -> None:
        with contextlib.suppress(Closed, ConnectionError, OSError, TimeoutError):
            await self.command("LOGOUT")
        await self.close()


def appenduids(answer: Answer) -> list[int]:
    found = re.search(rb"\[APPENDUID \d+ ([0-9:,]+)\]", answer.tagged.line)
    return expand(found.group(1).decode()) if answer.ok and found else []


def copyuids(answer: Answer) -> list[tuple[int, int]]:
    """(source, target) UID pairs of COPYUID, on the tagged line (COPY) or an
    untagged OK (MOVE, RFC 6851 §4.3)."""
    for response in (answer.tagged, *answer.untagged):
        found = re.search(rb"\[COPYUID \d+ ([0-9:,]+) ([0-9:,]+)\]", response.line)
        if found:
            sources, targets = expand(found.group(1).decode()), expand(found.group(2).decode())
            return list(zip(sources, targets, strict=True))
    return []


def expand(text: str) -> list[int]:
    """The UIDs of a set as a server writes it ("3:5,9"), in its order."""
    uids: list[int] = []
    for item in text.split(","):
        low, _, high = item.partition(":")
        a, b = int(low), int(high or low)
        uids.extend(range(a, b + 1) if a <= b else range(a, b - 1, -1))
    return uids
