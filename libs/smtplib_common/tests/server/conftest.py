"""Fixtures for the server tests: a real listener, a raw line client, TLS material.

Tests talk to the server over real sockets with :class:`LineClient`, which
writes exactly the bytes a test gives it and parses replies back into
:class:`~smtplib_common.replies.Reply` objects, so a test can write
``assert reply == replies.NEED_MAIL``. After HELO the wire carries no enhanced
status code; compare with ``plain(replies.X)`` (the ``plain`` fixture) there.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime
import email.utils
import re
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
import trustme

from smtplib_common.replies import Reply
from smtplib_common.server import Envelope, ServerConfig, Session, SMTPServer
from smtplib_common.server.peers import PeerLimits

HOSTNAME = "mx.localpost.test"
# Every read in a test is bounded: a server that fails to answer makes the test
# fail in seconds instead of hanging the run.
READ_TIMEOUT = 10.0

_STATUS = re.compile(r"([245]\.\d{1,3}\.\d{1,3}) ")


def parse_reply(lines: list[bytes]) -> Reply:
    """One reply from its wire lines (``250-a``, ``250 b``), enhanced code split off.

    The status is taken as enhanced only when every line starts with the same
    one, as RFC 2034 §3 requires of a server that sends them.
    """
    code = int(lines[0][:3])
    texts = [line[4:].rstrip(b"\r\n").decode("utf-8") for line in lines]
    first = _STATUS.match(texts[0])
    status = first[1] if first else None
    if status is not None and all(t.startswith(status + " ") for t in texts):
        texts = [t[len(status) + 1 :] for t in texts]
    else:
        status = None
    return Reply(code, status, "\n".join(texts))


class LineClient:
    """A raw SMTP client: sends the bytes it is given, parses the replies.

    ``send("NOOP", "RSET")`` writes both lines in *one* write (pipelined) and
    returns both replies; a ``str`` item gets CRLF appended, a ``bytes`` item is
    sent exactly as given. Each item is expected to draw one reply unless
    ``n`` says otherwise.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.greeting: Reply | None = None
        self.transcript: list[Reply] = []

    @classmethod
    async def open(cls, port: int, *, tls: ssl.SSLContext | None = None) -> LineClient:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=tls, server_hostname="localhost" if tls else None
        )
        return cls(reader, writer)

    @staticmethod
    def encode(*items: str | bytes) -> bytes:
        return b"".join(i if isinstance(i, bytes) else i.encode("utf-8") + b"\r\n" for i in items)

    async def write(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def send(self, *items: str | bytes, n: int | None = None) -> list[Reply]:
        await self.write(self.encode(*items))
        return [await self.read_reply() for _ in range(len(items) if n is None else n)]

    async def command(self, item: str | bytes) -> Reply:
        (reply,) = await self.send(item)
        return reply

    async def read_reply(self) -> Reply:
        lines: list[bytes] = []
        async with asyncio.timeout(READ_TIMEOUT):
            while True:
                line = await self.reader.readline()
                if not line.endswith(b"\n"):
                    raise ConnectionError(f"connection closed inside a reply: {[*lines, line]!r}")
                lines.append(line)
                if line[3:4] != b"-":
                    break
        reply = parse_reply(lines)
        self.transcript.append(reply)
        return reply

    async def read_rest(self) -> bytes:
        """Everything the server sends until it closes the connection."""
        async with asyncio.timeout(READ_TIMEOUT):
            return await self.reader.read()

    async def starttls(self, context: ssl.SSLContext) -> None:
        await self.writer.start_tls(context, server_hostname="localhost")

    async def ehlo(self, name: str = "client.test") -> Reply:
        return await self.command(f"EHLO {name}")

    async def close(self) -> None:
        if not self.writer.is_closing():
            self.writer.close()
        # The server may have closed first, or reset a TLS session mid-flight.
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            await self.writer.wait_closed()


# RFC 5321 §4.4 Time-stamp-line as the server writes it (one FWS per fold).
_RECEIVED = re.compile(
    rb"Received: from (?P<helo>\S+) \(\[(?P<ip>[^\]\r\n]+)\]\)\r\n"
    rb"\tby (?P<by>\S+) \(Localpost\) with (?P<protocol>[A-Z0-9]+) id (?P<id>[0-9A-Z]+)"
    rb"(?:\r\n\tfor <(?P<rcpt>[^>\r\n]*)>)?;\r\n"
    rb"\t(?P<date>[^\r\n]+)\r\n"
)


@dataclass(frozen=True, slots=True)
class Trace:
    """The fields of the server's Received: header."""

    helo: str
    ip: str
    by: str
    protocol: str
    id: str
    rcpt: str | None
    date: datetime.datetime


def split_received(message: bytes) -> tuple[Trace, bytes]:
    """The server's Received: header, parsed, and the message as the client sent it."""
    match = _RECEIVED.match(message)
    assert match is not None, f"no well-formed Received: header first: {message[:300]!r}"
    fields = {k: v.decode() if v is not None else None for k, v in match.groupdict().items()}
    date = email.utils.parsedate_to_datetime(fields.pop("date") or "")
    return Trace(date=date, **fields), message[match.end() :]  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message as the handler received it."""

    session: Session
    envelope: Envelope
    message: bytes


class RecordingHandler:
    """Accepts everything and records every message; any hook can be added.

    ``RecordingHandler(handle_rcpt=refuse)`` sets the hook as an attribute, which
    is all :meth:`Hooks.of` looks for. ``on_message`` runs after recording and
    its return value is the reply to DATA (``None``: the server's default).
    """

    def __init__(
        self,
        on_message: Callable[[Session, Envelope, bytes], Awaitable[Reply | None]] | None = None,
        **hooks: Callable[..., Awaitable[Any]],
    ) -> None:
        self.deliveries: list[Delivery] = []
        self._on_message = on_message
        for name, hook in hooks.items():
            setattr(self, name, hook)

    async def handle_message(
        self, session: Session, envelope: Envelope, message: bytes
    ) -> Reply | None:
        self.deliveries.append(Delivery(session, envelope, message))
        if self._on_message is not None:
            return await self._on_message(session, envelope, message)
        return None

    @property
    def messages(self) -> list[bytes]:
        return [d.message for d in self.deliveries]

    @property
    def contents(self) -> list[bytes]:
        """Each message as the client sent it: the server's Received: header removed."""
        return [split_received(d.message)[1] for d in self.deliveries]


@dataclass(slots=True)
class Running:
    """A started server and its handler."""

    server: SMTPServer
    handler: RecordingHandler

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def deliveries(self) -> list[Delivery]:
        return self.handler.deliveries

    @property
    def messages(self) -> list[bytes]:
        return self.handler.messages

    @property
    def contents(self) -> list[bytes]:
        return self.handler.contents


MakeServer = Callable[..., Awaitable[Running]]
Connect = Callable[..., Awaitable[LineClient]]


def server_config(**overrides: Any) -> ServerConfig:
    """A ServerConfig with a fixed hostname and a short delay on auth failures."""
    overrides.setdefault("hostname", HOSTNAME)
    overrides.setdefault("auth_failure_delay", 0.01)
    return ServerConfig(**overrides)


@pytest.fixture
def config() -> Callable[..., ServerConfig]:
    """``config(max_recipients=2)``: the test defaults with some overrides."""
    return server_config


@pytest.fixture
def received() -> Callable[[bytes], tuple[Trace, bytes]]:
    """``trace, content = received(message)``: see :func:`split_received`."""
    return split_received


@pytest.fixture
def plain() -> Callable[[Reply], Reply]:
    """The reply as a HELO session sees it: the same code and text, no enhanced code."""
    return lambda reply: dataclasses.replace(reply, status=None)


@pytest.fixture
async def make_server() -> AsyncIterator[MakeServer]:
    """``await make_server(config, tls_context=..., handle_rcpt=...)`` → a started server.

    ``peer_limits=`` gives it a tracker shared with other servers of the test.

    Every server is stopped at teardown, so no socket outlives its test.
    """
    started: list[SMTPServer] = []

    async def make(
        config: ServerConfig | None = None,
        *,
        tls_context: ssl.SSLContext | None = None,
        implicit_tls: bool = False,
        peer_limits: PeerLimits | None = None,
        on_message: Callable[[Session, Envelope, bytes], Awaitable[Reply | None]] | None = None,
        **hooks: Callable[..., Awaitable[Any]],
    ) -> Running:
        handler = RecordingHandler(on_message, **hooks)
        server = SMTPServer(
            handler,
            config or server_config(),
            tls_context=tls_context,
            implicit_tls=implicit_tls,
            peer_limits=peer_limits,
        )
        await server.start("127.0.0.1", 0)
        started.append(server)
        return Running(server, handler)

    yield make
    for server in started:
        await server.stop(grace=2.0)


@pytest.fixture
async def connect(make_server: MakeServer) -> AsyncIterator[Connect]:
    """``await connect(running, tls=None, greet=True)`` → a client past the greeting.

    Depends on ``make_server`` so that clients close before servers stop.
    """
    clients: list[LineClient] = []

    async def open_client(
        target: Running | int, *, tls: ssl.SSLContext | None = None, greet: bool = True
    ) -> LineClient:
        port = target if isinstance(target, int) else target.port
        client = await LineClient.open(port, tls=tls)
        clients.append(client)
        if greet:
            client.greeting = await client.read_reply()
        return client

    yield open_client
    for client in clients:
        await client.close()


@pytest.fixture
async def server(make_server: MakeServer) -> Running:
    """A server with the test defaults and only the recording handler."""
    return await make_server()


@pytest.fixture
async def client(server: Running, connect: Connect) -> LineClient:
    """A client connected to ``server``, greeted, before EHLO."""
    return await connect(server)


@pytest.fixture
async def ehlo_client(client: LineClient) -> LineClient:
    """A client connected to ``server`` that has sent EHLO."""
    reply = await client.ehlo()
    assert reply.code == 250
    return client


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def server_tls(ca: trustme.CA) -> ssl.SSLContext:
    """The server's context: a certificate for localhost and 127.0.0.1."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(context)
    return context


@pytest.fixture(scope="session")
def client_tls(ca: trustme.CA) -> ssl.SSLContext:
    """A client context that trusts only the test CA and verifies the name."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    ca.configure_trust(context)
    return context
