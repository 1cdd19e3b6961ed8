"""Fixtures for the client tests: a scripted fake SMTP peer and TLS material.

The fake peer is a real TCP server on 127.0.0.1 whose side of the dialogue is
a coroutine written in the test (``script(peer)``), so a test states exactly
what the server says and checks exactly what the client sent. ``Scripted`` is
a ready-made script for the common case: a permissive server whose replies to
chosen verbs are overridden.

Failures inside a script (assertions, timeouts) are re-raised by
``server.finished()`` and again at teardown, so they fail the test.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import trustme

from smtplib_common.client import SMTPClient

# Generous for a loaded CI machine, small enough that a hang fails quickly.
STEP_TIMEOUT = 5.0
# How long Scripted waits for the next command; pooled sessions sit idle.
IDLE_TIMEOUT = 30.0

DEFAULT_EXTENSIONS = ("PIPELINING", "8BITMIME", "SMTPUTF8", "SIZE 10240000", "ENHANCEDSTATUSCODES")


class Peer:
    """The server end of one connection, driven by a test script."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.lines: list[bytes] = []

    async def reply(self, *lines: str | bytes) -> None:
        for line in lines:
            raw = line if isinstance(line, bytes) else line.encode("utf-8")
            self.writer.write(raw + b"\r\n")
        await self.writer.drain()

    async def send_raw(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def readline(self) -> bytes:
        async with asyncio.timeout(STEP_TIMEOUT):
            line = await self.reader.readline()
        self.lines.append(line)
        return line

    async def next_command(self) -> bytes:
        """Like :meth:`readline`, but waits as long as an idle session may."""
        async with asyncio.timeout(IDLE_TIMEOUT):
            line = await self.reader.readline()
        self.lines.append(line)
        return line

    async def expect(self, prefix: str) -> bytes:
        line = await self.readline()
        assert line.upper().startswith(prefix.upper().encode()), (prefix, line)
        assert line.endswith(b"\r\n"), line
        return line

    async def read_exactly(self, size: int) -> bytes:
        async with asyncio.timeout(STEP_TIMEOUT):
            return await self.reader.readexactly(size)

    async def read_data(self) -> bytes:
        """The raw (still dot-stuffed) DATA payload up to and including ``.\\r\\n``."""
        payload = b""
        async with asyncio.timeout(STEP_TIMEOUT):
            while True:
                line = await self.reader.readline()
                if not line:
                    raise EOFError(f"client hung up during DATA after {payload[-40:]!r}")
                payload += line
                if line == b".\r\n":
                    return payload

    async def handshake(self, *extensions: str, greeting: str = "220 fake.test ESMTP") -> None:
        await self.reply(greeting)
        await self.expect("EHLO ")
        await self.reply(*ehlo_reply(extensions))

    async def expect_quit(self) -> None:
        await self.expect("QUIT")
        await self.reply("221 2.0.0 Bye")

    async def start_tls(self, context: ssl.SSLContext) -> None:
        async with asyncio.timeout(STEP_TIMEOUT):
            await self.writer.start_tls(context)

    async def read_until_eof(self) -> bytes:
        """Everything the client sends until it hangs up."""
        async with asyncio.timeout(STEP_TIMEOUT):
            return await self.reader.read()

    async def at_eof(self) -> bool:
        """True once the client has closed its end."""
        async with asyncio.timeout(STEP_TIMEOUT):
            return await self.reader.read(1) == b""


def ehlo_reply(extensions: tuple[str, ...] | list[str]) -> list[str]:
    lines = ["fake.test greets you", *extensions]
    return [f"250{'-' if i < len(lines) - 1 else ' '}{text}" for i, text in enumerate(lines)]


Script = Callable[[Peer], Awaitable[None]]


class FakeServer:
    def __init__(self, script: Script) -> None:
        self.script = script
        self.peers: list[Peer] = []
        self.errors: list[BaseException] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None

    async def start(self, ssl_context: ssl.SSLContext | None = None) -> FakeServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=ssl_context)
        return self

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        peer = Peer(reader, writer)
        self.peers.append(peer)
        try:
            await self.script(peer)
        except asyncio.CancelledError:
            # Teardown cancels scripts still running. Ending normally matters:
            # CPython 3.11's start_server callback calls task.exception() on
            # the finished task and logs a cancelled one as an error.
            return
        except BaseException as exc:  # reported by finished(), so nothing is hidden
            self.errors.append(exc)
        finally:
            writer.close()
            with contextlib.suppress(OSError, ssl.SSLError, TimeoutError):
                async with asyncio.timeout(1):
                    await writer.wait_closed()

    async def finished(self) -> None:
        """Wait for every script to end; re-raise the first failure."""
        if self._tasks:
            async with asyncio.timeout(STEP_TIMEOUT):
                await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.errors:
            raise self.errors[0]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


@pytest.fixture
async def fake_smtp() -> AsyncIterator[Callable[..., Awaitable[FakeServer]]]:
    """``server = await fake_smtp(script, ssl_context=None)``."""
    servers: list[FakeServer] = []

    async def start(script: Script, *, ssl_context: ssl.SSLContext | None = None) -> FakeServer:
        server = await FakeServer(script).start(ssl_context)
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.close()
    for server in servers:
        if server.errors:
            raise server.errors[0]


Override = str | list[str] | Callable[[str], str]


@dataclass
class Received:
    mail: str  # the envelope addresses, without angle brackets
    rcpts: list[str]
    data: bytes  # after dot-unstuffing, as a server would store it
    chunks: list[bytes] = field(default_factory=list)


@dataclass
class Scripted:
    """A permissive SMTP server; ``replies`` overrides a verb's reply.

    A value is a reply line, a list of lines (one per use, the last repeated),
    or a function from the command's argument to a reply line. Verbs: EHLO,
    HELO, MAIL, RCPT, DATA (the 354), "." (end of data), BDAT, RSET, NOOP,
    VRFY, QUIT, STARTTLS, GREETING.
    """

    extensions: tuple[str, ...] = DEFAULT_EXTENSIONS
    replies: dict[str, Override] = field(default_factory=dict)
    tls: ssl.SSLContext | None = None
    data_delay: float = 0.0  # seconds before the verdict on a message
    commands: list[str] = field(default_factory=list)
    messages: list[Received] = field(default_factory=list)
    sessions: int = 0

    def _reply(self, verb: str, arg: str, default: str) -> str:
        override = self.replies.get(verb)
        if override is None:
            return default
        if isinstance(override, str):
            return override
        if isinstance(override, list):
            return override.pop(0) if len(override) > 1 else override[0]
        return override(arg)

    async def __call__(self, peer: Peer) -> None:
        self.sessions += 1
        await peer.reply(self._reply("GREETING", "", "220 fake.test ESMTP"))
        mail, rcpts, chunks = "", [], []
        while True:
            line = await peer.next_command()
            if not line:
                return
            text = line.decode("utf-8").rstrip("\r\n")
            self.commands.append(text)
            verb, _, arg = text.partition(" ")
            verb = verb.upper()
            if verb == "EHLO":
                reply = self._reply("EHLO", arg, "")
                await peer.reply(*([reply] if reply else ehlo_reply(list(self.extensions))))
            elif verb == "MAIL":
                reply = self._reply("MAIL", arg, "250 2.1.0 OK")
                mail, rcpts, chunks = (path(arg), [], []) if reply.startswith("2") else ("", [], [])
                await peer.reply(reply)
            elif verb == "RCPT":
                # Like a real server: no RCPT before a successful MAIL.
                default = "250 2.1.5 OK" if mail else "503 5.5.1 need MAIL first"
                reply = self._reply("RCPT", arg, default) if mail else default
                if reply.startswith("2"):
                    rcpts.append(path(arg))
                await peer.reply(reply)
            elif verb == "DATA":
                reply = self._reply("DATA", arg, "354 go ahead" if rcpts else "554 no rcpts")
                await peer.reply(reply)
                if reply.startswith("354"):
                    raw = await peer.read_data()
                    self.messages.append(Received(mail, rcpts, unstuff(raw)))
                    await asyncio.sleep(self.data_delay)
                    await peer.reply(self._reply(".", "", "250 2.0.0 queued"))
                mail, rcpts = "", []
            elif verb == "BDAT":
                size, _, last = arg.partition(" ")
                chunks.append(await peer.read_exactly(int(size)))
                if last.upper() == "LAST":
                    self.messages.append(Received(mail, rcpts, b"".join(chunks), chunks))
                await peer.reply(self._reply("BDAT", arg, "250 2.0.0 chunk OK"))
            elif verb == "STARTTLS" and self.tls is not None:
                await peer.reply(self._reply("STARTTLS", arg, "220 2.0.0 go"))
                await peer.start_tls(self.tls)
            elif verb == "QUIT":
                await peer.reply(self._reply("QUIT", arg, "221 2.0.0 Bye"))
                return
            else:
                if verb == "RSET":
                    mail, rcpts, chunks = "", [], []
                await peer.reply(self._reply(verb, arg, "250 2.0.0 OK"))


def path(arg: str) -> str:
    """The address in ``FROM:<addr> params`` or ``TO:<addr>``."""
    match = re.match(r"(?i)(?:FROM|TO):<([^>]*)>", arg)
    assert match is not None, arg
    return match[1]


def unstuff(raw: bytes) -> bytes:
    """Undo RFC 5321 §4.5.2 transparency and drop the ``.\\r\\n`` terminator."""
    assert raw.endswith(b"\r\n.\r\n") or raw == b".\r\n", raw[-20:]
    body = raw[:-3]
    return re.sub(rb"(?m)^\.", b"", body)


@pytest.fixture(scope="session")
def tls_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def server_tls(tls_ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls_ca.issue_cert("localhost").configure_cert(context)
    return context


@pytest.fixture(scope="session")
def client_tls(tls_ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    tls_ca.configure_trust(context)
    return context


@pytest.fixture
def scripted() -> type[Scripted]:
    """The :class:`Scripted` class, for tests that cannot import from conftest."""
    return Scripted


@pytest.fixture
async def client_for() -> AsyncIterator[Callable[..., SMTPClient]]:
    """``client_for(server, **options)``: a client for a fake server, closed at teardown.

    Timeouts default to a few seconds so a client that waits for a reply that
    never comes fails the test instead of hanging it.
    """
    clients: list[SMTPClient] = []

    def make(server: FakeServer, *, host: str = "127.0.0.1", **options: Any) -> SMTPClient:
        for name in ("connect_timeout", "timeout", "data_timeout"):
            options.setdefault(name, STEP_TIMEOUT)
        client = SMTPClient(host, server.port, **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()
