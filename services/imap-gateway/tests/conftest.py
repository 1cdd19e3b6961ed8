"""A session server on 127.0.0.1:0 over the in-memory backend, and a raw line client."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest

from imap_gateway.backend import FolderStatus
from imap_gateway.memory import MemoryBackend, MemoryUser
from imap_gateway.session import SessionEvents, SessionSettings, connection_handler

USER = "alice@example.org"
PASSWORD = "correct horse"
TIMEOUT = 5.0  # a bound on waiting for a reply, never a timing assertion
_LITERAL_END = re.compile(rb"\{(\d+)\}\r\n$")


class Client:
    """A raw IMAP client: sends lines, reads responses (literals joined in)."""

    USER = USER
    PASSWORD = PASSWORD

    # Test modules cannot import from conftest (importlib mode): the helpers they
    # share are static methods here.
    @staticmethod
    def message(subject: str = "Hello", body: str = "Hi there.\r\n", **headers: str) -> bytes:
        lines = ["From: Bob <bob@example.org>", f"To: {USER}", f"Subject: {subject}"]
        lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
        lines.append("Date: Mon, 7 Dec 2026 10:00:00 +0000")
        return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()

    @staticmethod
    def status_of(lines: list[bytes]) -> bytes:
        """``OK``, ``NO`` or ``BAD`` of the tagged answer."""
        return lines[-1].split(b" ")[1]

    @staticmethod
    def untagged(lines: list[bytes], word: bytes) -> list[bytes]:
        """The untagged responses whose first or second word is ``word``."""
        out = []
        for line in lines:
            words = line.split(b" ")
            if words[0] == b"*" and (words[1:2] == [word] or words[2:3] == [word]):
                out.append(line)
        return out

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self._tags = 0

    def next_tag(self) -> str:
        self._tags += 1
        return f"t{self._tags}"

    async def send(self, data: bytes | str) -> None:
        self.writer.write(data.encode() if isinstance(data, str) else data)
        await self.writer.drain()

    async def response(self) -> bytes:
        """One whole response line with its literals, without the final CRLF."""
        parts = []
        while True:
            line = await asyncio.wait_for(self.reader.readline(), TIMEOUT)
            if not line:
                raise ConnectionError("server closed the connection")
            found = _LITERAL_END.search(line)
            if found is None:
                parts.append(line[:-2] if line.endswith(b"\r\n") else line)
                return b"".join(parts)
            parts.append(line)
            parts.append(await asyncio.wait_for(self.reader.readexactly(int(found[1])), TIMEOUT))

    async def command(self, text: str | bytes, *, tag: str | None = None) -> list[bytes]:
        """Send ``tag text`` and read up to and including the tagged answer."""
        tag = tag or self.next_tag()
        data = text.encode() if isinstance(text, str) else text
        await self.send(tag.encode() + b" " + data + b"\r\n")
        return await self.until_tagged(tag)

    async def until_tagged(self, tag: str) -> list[bytes]:
        lines = []
        while True:
            line = await self.response()
            lines.append(line)
            if line.startswith(tag.encode() + b" "):
                return lines

    async def ok(self, text: str | bytes) -> list[bytes]:
        """The command's responses; fails unless it is answered OK."""
        lines = await self.command(text)
        assert lines[-1].split(b" ")[1] == b"OK", lines
        return lines

    async def login(self) -> None:
        await self.ok(f'LOGIN {USER} "{PASSWORD}"')

    async def closed(self) -> bool:
        """Whether the server closed the connection (reads what is left)."""
        try:
            rest = await asyncio.wait_for(self.reader.read(), TIMEOUT)
        except ConnectionError:
            return True
        return rest == b"" or self.reader.at_eof()

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


@dataclass
class Server:
    backend: MemoryBackend
    port: int
    clients: list[Client] = field(default_factory=list)

    async def connect(self, *, greeting: bool = True) -> Client:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        client = Client(reader, writer)
        self.clients.append(client)
        if greeting:
            line = await client.response()
            assert line.startswith(b"* OK [CAPABILITY "), line
        return client

    def deliver(
        self, subject: str = "Hello", body: str = "Hi there.\r\n", flags: tuple[str, ...] = ()
    ) -> int:
        """A message put into INBOX as the mail store would; its UID."""
        return self.backend.deliver(USER, Client.message(subject, body), flags=flags)

    async def logged_in(self, select: str | None = "INBOX") -> Client:
        client = await self.connect()
        await client.login()
        if select is not None:
            await client.ok(f"SELECT {select}")
        return client


ServerFactory = Callable[..., Awaitable[Server]]


@pytest.fixture
def backend() -> MemoryBackend:
    memory = MemoryBackend()
    memory.add_user(USER, PASSWORD)
    return memory


@pytest.fixture
async def make_server(backend: MemoryBackend) -> AsyncIterator[ServerFactory]:
    servers: list[tuple[asyncio.Server, Server]] = []

    sessions: set[asyncio.Task[None]] = set()

    async def make(
        *,
        trusted: bool = True,
        settings: SessionSettings | None = None,
        events: SessionEvents | None = None,
    ) -> Server:
        handler = connection_handler(backend, settings, trusted=lambda host: trusted, events=events)

        async def tracked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            sessions.add(task)
            await handler(reader, writer)

        listener = await asyncio.start_server(tracked, "127.0.0.1", 0)
        server = Server(backend, listener.sockets[0].getsockname()[1])
        servers.append((listener, server))
        return server

    yield make
    for listener, server in servers:
        for client in server.clients:
            await client.close()
        listener.close()
        await listener.wait_closed()
    # Each session ends once its client is gone; wait for them so none is cut off.
    if sessions:
        await asyncio.wait(sessions, timeout=TIMEOUT)


@pytest.fixture
async def server(make_server: ServerFactory) -> Server:
    return await make_server()


@pytest.fixture
def client_class() -> type[Client]:
    """The raw client, for tests that connect to listeners of their own."""
    return Client


@dataclass
class HeldStatus:
    """STATUS of the memory backend held until ``gate`` is set; ``entered`` once it waits."""

    entered: asyncio.Event = field(default_factory=asyncio.Event)
    gate: asyncio.Event = field(default_factory=asyncio.Event)


@pytest.fixture
def held_status(monkeypatch: pytest.MonkeyPatch) -> HeldStatus:
    """A command in flight for as long as a test wants: STATUS waits for the gate."""
    held = HeldStatus()
    original = MemoryUser.status

    async def status(self: MemoryUser, name: str) -> FolderStatus:
        held.entered.set()
        await held.gate.wait()
        return await original(self, name)

    monkeypatch.setattr(MemoryUser, "status", status)
    return held
