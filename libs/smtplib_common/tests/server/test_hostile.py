"""Hostile clients against a live server over real sockets.

Each case attacks one server with bytes no honest client sends — garbage,
overlong lines, NUL, smuggling sequences in DATA, floods, clients that never
read, half-close, drops mid-transfer — asserts that every complete line got
exactly one reply (up to the one that ends the session), and then checks the
same three things (:meth:`Live.assert_healthy`): every connection is released
(``connection_count`` back to 0), no asyncio task of a connection is left,
and a fresh client is still served.

The fixtures here are local on purpose: this file must not depend on the
per-reply-code suite's conftest.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import inspect
import socket
import struct
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from libs.smtplib_common.tests.fuzzing import fuzz_settings
from smtplib_common import replies
from smtplib_common.replies import Reply
from smtplib_common.server import Credentials, Envelope, ServerConfig, Session, SMTPServer
from smtplib_common.server.protocol import SMTPConnection

HOSTNAME = "hostile.test"
ALICE = "alice@example.test"
BOB = "bob@example.test"
MALLORY = "mallory@evil.test"
VICTIM = "victim@example.test"

# How long any single step may take before the test calls it a hang.
STEP = 5.0
# What one connection may hold in user space, whatever its client sends. The
# server's own marks are 256 KiB of input and 64 KiB of pending replies; this
# leaves room for one large read on top of both.
MEMORY_BOUND = 2 * 1024 * 1024

ENVELOPE = f"EHLO client.test\r\nMAIL FROM:<{ALICE}>\r\nRCPT TO:<{BOB}>\r\n".encode()
# The commands a smuggler hides after a fake end of data (CVE-2023-51764 class).
SMUGGLED = (
    f"MAIL FROM:<{MALLORY}>\r\nRCPT TO:<{VICTIM}>\r\nDATA\r\n"
    "From: <security@example.test>\r\nSubject: smuggled\r\n\r\nsmuggled\r\n"
).encode()


def enhanced(reply: Reply) -> bytes:
    return reply.encode(enhanced=True)


def plain(reply: Reply) -> bytes:
    return reply.encode(enhanced=False)


def queued(envelope: Envelope) -> bytes:
    return enhanced(replies.MESSAGE_ACCEPTED.with_text(f"OK: queued as {envelope.id}"))


def split_replies(data: bytes) -> list[bytes]:
    """Complete replies (multi-line ones joined), in order; a torn reply fails."""
    out: list[bytes] = []
    current: list[bytes] = []
    for line in data.split(b"\r\n")[:-1]:
        current.append(line + b"\r\n")
        assert line[:3].isdigit(), f"not a reply line: {line!r}"
        if line[3:4] != b"-":
            out.append(b"".join(current))
            current = []
    assert not current, f"torn reply: {data[-80:]!r}"
    assert data.endswith(b"\r\n") or not data, f"torn reply: {data[-80:]!r}"
    return out


def has_bare_line_ending(data: bytes) -> bool:
    crlf = data.count(b"\r\n")
    return data.count(b"\r") != crlf or data.count(b"\n") != crlf


def unstuff(wire: bytes) -> bytes:
    """RFC 5321 §4.5.2, receiver side: drop the first dot of every line."""
    if wire.startswith(b"."):
        wire = wire[1:]
    return wire.replace(b"\r\n.", b"\r\n")


def strip_received(message: bytes) -> bytes:
    """The message without the one Received: header the server puts first."""
    assert message.startswith(b"Received: from "), message[:80]
    # The trace header is "Received: from ...\r\n\tby ...[\r\n\tfor <x>];\r\n\t<date>\r\n".
    _, _, rest = message.partition(b";\r\n\t")
    _, _, body = rest.partition(b"\r\n")
    return body


@dataclass
class Recorder:
    """A handler that accepts everything and records what it was asked."""

    senders: list[str] = field(default_factory=list)
    recipients: list[str] = field(default_factory=list)
    messages: list[tuple[Envelope, bytes]] = field(default_factory=list)

    async def handle_mail(
        self, session: Session, envelope: Envelope, address: str, params: dict[str, str | None]
    ) -> None:
        self.senders.append(address)

    async def handle_rcpt(
        self, session: Session, envelope: Envelope, address: str, params: dict[str, str | None]
    ) -> None:
        self.recipients.append(address)

    async def handle_message(self, session: Session, envelope: Envelope, message: bytes) -> None:
        self.messages.append((envelope, message))

    def clear(self) -> None:
        self.senders.clear()
        self.recipients.clear()
        self.messages.clear()


class AccountsRecorder(Recorder):
    """A Recorder that offers AUTH and knows one account: alice, password secret."""

    async def authenticate(self, session: Session, credentials: Credentials) -> bool:
        return (credentials.username, credentials.password) == ("alice", "secret")


class Peer:
    """A client over asyncio streams that speaks exactly the bytes it is given."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, port: int, *, source: str | None = None) -> Peer:
        """Connect to the server; ``source`` is another loopback address (127.0.0.2)
        for a client that must count as a different peer."""
        local = (source, 0) if source is not None else None
        reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=local)
        return cls(reader, writer)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def reply(self) -> bytes:
        lines = []
        async with asyncio.timeout(STEP):
            while True:
                line = await self.reader.readline()
                assert line.endswith(b"\r\n"), f"connection ended inside a reply: {line!r}"
                lines.append(line)
                if line[3:4] != b"-":
                    return b"".join(lines)

    async def replies(self, count: int) -> list[bytes]:
        return [await self.reply() for _ in range(count)]

    async def greeting(self) -> bytes:
        greeting = await self.reply()
        assert greeting == f"220 {HOSTNAME} ESMTP Localpost\r\n".encode()
        return greeting

    async def until_eof(self) -> list[bytes]:
        """Every reply until the server closes the connection."""
        async with asyncio.timeout(STEP):
            data = await self.reader.read()
        return split_replies(data)

    async def start_data(self) -> None:
        """Greeting, EHLO, MAIL, RCPT and DATA, each answered as it should be."""
        await self.greeting()
        await self.send(ENVELOPE + b"DATA\r\n")
        ehlo, mail, rcpt, data = await self.replies(4)
        assert ehlo.startswith(f"250-{HOSTNAME} Hello client.test\r\n".encode())
        assert (mail, rcpt) == (enhanced(replies.SENDER_OK), enhanced(replies.RECIPIENT_OK))
        assert data == plain(replies.START_MAIL_INPUT)

    def reset(self) -> None:
        """Close with RST instead of FIN (SO_LINGER 0)."""
        sock = self.writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


async def eventually(predicate: Callable[[], bool], within: float = STEP) -> bool:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


def connection_tasks() -> set[asyncio.Task[object]]:
    current = asyncio.current_task()
    return {t for t in asyncio.all_tasks() if t is not current}


@dataclass
class Live:
    server: SMTPServer
    handler: Recorder
    tasks_before: set[asyncio.Task[object]]

    @property
    def port(self) -> int:
        return self.server.port

    async def peer(self, *, source: str | None = None) -> Peer:
        return await Peer.connect(self.port, source=source)

    def connection(self) -> SMTPConnection:
        (conn,) = self.server._connections
        return conn

    async def wait_for_connection(self) -> SMTPConnection:
        assert await eventually(lambda: self.server.connection_count == 1)
        return self.connection()

    async def assert_released(self, within: float = STEP) -> None:
        released = await eventually(lambda: self.server.connection_count == 0, within)
        assert released, f"{self.server.connection_count} connection(s) never released"
        # The per-source counts are released on the same paths.
        assert self.server.peer_limits.sources == 0
        settled = await eventually(lambda: connection_tasks() <= self.tasks_before, within)
        assert settled, f"leaked tasks: {connection_tasks() - self.tasks_before}"

    async def assert_healthy(self) -> None:
        """All hostile connections gone, no task left, and a fresh client is served."""
        await self.assert_released()
        peer = await self.peer()
        try:
            await peer.greeting()
            await peer.send(b"EHLO fresh.test\r\nNOOP\r\nQUIT\r\n")
            ehlo, noop, quit_ = await peer.replies(3)
            assert ehlo.startswith(b"250-")
            assert (noop, quit_) == (enhanced(replies.OK), enhanced(replies.CLOSING))
            assert await peer.until_eof() == []
        finally:
            await peer.close()
        await self.assert_released()


ServerFactory = Callable[..., Awaitable[Live]]


@contextlib.asynccontextmanager
async def servers() -> AsyncIterator[ServerFactory]:
    """Start servers on 127.0.0.1:0 with a Recorder handler; stop them all afterwards."""
    started: list[SMTPServer] = []

    async def start(handler: Recorder | None = None, **config: object) -> Live:
        handler = handler or Recorder()
        server = SMTPServer(handler, ServerConfig(hostname=HOSTNAME, **config))  # type: ignore[arg-type]
        await server.start("127.0.0.1", 0)
        started.append(server)
        return Live(server, handler, connection_tasks())

    try:
        yield start
    finally:
        for server in started:
            await server.stop(grace=1.0)


@pytest.fixture
async def serve() -> AsyncIterator[ServerFactory]:
    async with servers() as start:
        yield start


@pytest.fixture
async def live(serve: ServerFactory) -> Live:
    return await serve(idle_timeout=5.0)


# --- garbage ---------------------------------------------------------------

_FORBIDDEN = {b"GET", b"POST", b"PUT", b"HEAD", b"CONNECT", b"OPTIONS"}


def _verb(raw: bytes) -> tuple[bytes, bytes]:
    line = raw[:-2] if raw.endswith(b"\r\n") else raw[:-1]
    verb, _, _ = line.partition(b" ")
    return verb.upper(), line


def _ends_session(raw: bytes) -> bool:
    """Whether the server closes after answering this command line."""
    verb, line = _verb(raw)
    if len(raw) > 512:
        return False  # refused as too long, whatever its verb (RFC 5321 §4.5.3.1.4)
    if verb in _FORBIDDEN:
        return True  # cross-protocol attack: answered with 421 and closed
    if verb != b"QUIT" or b"\r" in line or b"\x00" in line:
        return False
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


_TOKENS = st.sampled_from(
    [
        b"\r\n",
        b"\n",
        b"\r",
        b"\x00",
        b" ",
        b".",
        b"NOOP",
        b"RSET",
        b"HELP",
        b"QUIT",
        b"EHLO x",
        b"HELO x",
        b"VRFY x",
        b"AUTH PLAIN",
        b"STARTTLS",
        b"EXPN x",
        b"GET / HTTP/1.1",
        f"MAIL FROM:<{ALICE}>".encode(),
        f"RCPT TO:<{BOB}>".encode(),
        "\u00e9\u00e8".encode(),
        b"\xff\xfe",
        b"x" * 600,
    ]
)
GARBAGE = st.lists(st.one_of(st.binary(max_size=64), _TOKENS), max_size=40).map(b"".join)


@pytest.mark.fuzz
@fuzz_settings(50)
@given(garbage=GARBAGE)
@example(garbage=b"GET / HTTP/1.1\r\nNOOP")
@example(garbage=b"GET /" + b"x" * 600 + b"\r\nNOOP\r\nQUIT " + b"x" * 600)
@example(garbage=b"QUIT\x00\r\nQUIT\r\r\nQUIT \xff\nNOOP")
async def test_garbage_gets_one_reply_per_complete_line(
    serve: ServerFactory, garbage: bytes
) -> None:
    """Every complete line is answered exactly once, up to the line that ends the session."""
    stream = garbage + b"\r\nQUIT\r\n"
    lines = [line + b"\n" for line in stream.split(b"\n")[:-1]]
    # DATA and BDAT change framing (the lines after them are not commands).
    assume(not any(_verb(line)[0] in (b"DATA", b"BDAT") for line in lines))
    answered = next(i for i, line in enumerate(lines, 1) if _ends_session(line))
    live = await serve(max_errors=10_000)
    peer = await live.peer()
    try:
        await peer.send(stream)
        got = await peer.until_eof()
    finally:
        await peer.close()
    assert got[0] == f"220 {HOSTNAME} ESMTP Localpost\r\n".encode()
    assert len(got) - 1 == answered
    assert got[-1][:3] in (b"221", b"421")
    assert not any(r[:3] in (b"221", b"421") for r in got[1:-1])
    assert live.handler.messages == []
    await live.assert_healthy()


async def test_too_many_errors_closes_and_answers_nothing_after(live: Live) -> None:
    peer = await live.peer()
    try:
        await peer.send(b"EHLO client.test\r\n" + b"BOGUS\r\n" * 25 + b"NOOP\r\n")
        got = await peer.until_eof()
    finally:
        await peer.close()
    unrecognized = enhanced(replies.COMMAND_UNRECOGNIZED)
    # max_errors is 20: the 20th error is followed by 421 and the connection ends.
    assert got[2:] == [unrecognized] * 20 + [enhanced(replies.TOO_MANY_ERRORS)]
    await live.assert_healthy()


async def test_nul_bytes_in_commands_are_refused_and_never_executed(live: Live) -> None:
    peer = await live.peer()
    try:
        await peer.greeting()
        lines = [
            b"EHLO client.test",
            b"NOOP \x00",
            b"\x00QUIT",
            b"QUIT\x00",
            f"MAIL FROM:<{ALICE}\x00>".encode(),
            b"RSET\x00",
            b"\x00",
            b"NOOP",
        ]
        await peer.send(b"".join(line + b"\r\n" for line in lines))
        got = await peer.replies(8)
        await peer.send(b"QUIT\r\n")
        assert await peer.reply() == enhanced(replies.CLOSING)
    finally:
        await peer.close()
    assert got[1:] == [
        enhanced(replies.NUL_IN_COMMAND),
        enhanced(replies.COMMAND_UNRECOGNIZED),
        enhanced(replies.COMMAND_UNRECOGNIZED),
        enhanced(replies.NUL_IN_COMMAND),
        enhanced(replies.COMMAND_UNRECOGNIZED),
        enhanced(replies.COMMAND_UNRECOGNIZED),
        enhanced(replies.OK),
    ]
    assert live.handler.senders == []
    await live.assert_healthy()


async def test_nul_byte_inside_data_is_content_of_one_message(live: Live) -> None:
    peer = await live.peer()
    try:
        await peer.start_data()
        await peer.send(b"a\x00b\r\n\x00.\r\n.\x00\r\n.\r\nQUIT\r\n")
        got = await peer.until_eof()
    finally:
        await peer.close()
    ((envelope, message),) = live.handler.messages
    assert got == [queued(envelope), enhanced(replies.CLOSING)]
    assert strip_received(message) == b"a\x00b\r\n\x00.\r\n\x00\r\n"
    await live.assert_healthy()


# --- overlong lines --------------------------------------------------------


@pytest.mark.parametrize("tail", [b"QUIT", b"RSET", b"\rQUIT", b"\rRSET", b"\x00RSET"])
async def test_100_kib_line_gets_one_500_and_its_tail_is_never_executed(
    live: Live, tail: bytes
) -> None:
    peer = await live.peer()
    try:
        await peer.greeting()
        # Inside a transaction, so an executed RSET would show in the RCPT reply.
        await peer.send(ENVELOPE[: ENVELOPE.index(b"RCPT")])
        _ehlo, mail = await peer.replies(2)
        assert mail == enhanced(replies.SENDER_OK)
        long_line = b"NOOP " + b"A" * (100 * 1024) + b" " + tail + b"\r\n"
        await peer.send(long_line + f"RCPT TO:<{BOB}>\r\nNOOP\r\n".encode())
        got = await peer.replies(3)
        await peer.send(b"QUIT\r\n")
        assert await peer.until_eof() == [enhanced(replies.CLOSING)]
    finally:
        await peer.close()
    assert got == [
        enhanced(replies.LINE_TOO_LONG),
        enhanced(replies.RECIPIENT_OK),
        enhanced(replies.OK),
    ]
    await live.assert_healthy()


@pytest.mark.parametrize("pieces", [1, 2], ids=["one-write", "two-writes"])
async def test_overlong_garbage_line_is_line_too_long_however_it_arrives(
    live: Live, pieces: int
) -> None:
    """docs/smtp.md: an overlong line is "answered once with 500 5.5.2 Line too long".

    Longer than ``read_line_limit``, so the reply must not depend on whether
    the line's LF arrived in the same read as its start.
    """
    line = b"X" * (live.server.config.read_line_limit + 1000) + b"\r\n"
    peer = await live.peer()
    try:
        await peer.greeting()
        await peer.send(b"EHLO client.test\r\n")
        await peer.reply()
        if pieces == 1:
            await peer.send(line)
        else:
            await peer.send(line[:-2])
            await asyncio.sleep(0.1)  # the server sees a line with no end yet
            await peer.send(line[-2:])
        await peer.send(b"NOOP\r\n")
        got = await peer.replies(2)
    finally:
        await peer.close()
    assert got == [enhanced(replies.LINE_TOO_LONG), enhanced(replies.OK)]
    await live.assert_healthy()


def _watch_buffer(conn: SMTPConnection) -> list[int]:
    """Record the connection's input buffer size after every read (test-side hook)."""
    sizes: list[int] = []
    original = conn.data_received

    def data_received(data: bytes) -> None:
        original(data)
        sizes.append(len(conn._buf))

    conn.data_received = data_received  # type: ignore[method-assign]
    return sizes


async def test_8_mib_line_without_lf_keeps_memory_bounded(live: Live) -> None:
    peer = await live.peer()
    try:
        await peer.greeting()
        conn = await live.wait_for_connection()
        sizes = _watch_buffer(conn)
        piece = b"A" * (64 * 1024)
        for _ in range(8 * 1024 * 1024 // len(piece)):
            await peer.send(piece)
            # uvloop binds data_received when the connection is made, so the
            # hook above only sees asyncio's reads; sample here as well.
            sizes.append(len(conn._buf))
        await peer.send(b"\r\nNOOP\r\nQUIT\r\n")
        got = await peer.until_eof()
    finally:
        await peer.close()
    assert got == [plain(replies.LINE_TOO_LONG), plain(replies.OK), plain(replies.CLOSING)]
    assert max(sizes) < MEMORY_BOUND, f"input buffer reached {max(sizes)} octets"
    await live.assert_healthy()


# --- SMTP smuggling inside DATA ------------------------------------------

# Fake ends of data a smuggler puts before the embedded commands.
FAKE_ENDS = {
    "lf-dot-lf": b"\n.\n",
    "lf-dot-crlf": b"\n.\r\n",
    "cr-dot-crlf": b"\r.\r\n",
    "crlf-dot-lf": b"\r\n.\n",
    "crlf-dot-cr": b"\r\n.\r",
    "crlf-nul-dot-crlf": b"\r\n\x00.\r\n",
    "dot-crlf-inside-line": b".\r\n",
    "crlf-dot-dot-crlf": b"\r\n..\r\n",
    "crlf-dot-space-crlf": b"\r\n. \r\n",
    "crlf-dot-cr-crlf": b"\r\n.\r\r\n",
    "lf-crlf-dot-lf": b"\n\r\n.\n",
}


def _smuggling_payload(fake_end: bytes) -> bytes:
    return b"Subject: hello\r\n\r\nhello" + fake_end + SMUGGLED + b".\r\n"


@pytest.mark.parametrize("pipelined", [False, True], ids=["wait-354", "one-write"])
@pytest.mark.parametrize("fake_end", FAKE_ENDS.values(), ids=FAKE_ENDS.keys())
async def test_smuggling_yields_one_transaction_or_none(
    live: Live, fake_end: bytes, pipelined: bool
) -> None:
    payload = _smuggling_payload(fake_end)
    # The real end is the last line: none of the fake ends is a CRLF.CRLF.
    assert (b"\r\n" + payload).find(b"\r\n.\r\n") == len(payload) - 3
    peer = await live.peer()
    try:
        if pipelined:
            await peer.send(ENVELOPE + b"DATA\r\n" + payload + b"QUIT\r\n")
            got = await peer.until_eof()
            assert got[0] == f"220 {HOSTNAME} ESMTP Localpost\r\n".encode()
            assert got[2:5] == [
                enhanced(replies.SENDER_OK),
                enhanced(replies.RECIPIENT_OK),
                plain(replies.START_MAIL_INPUT),
            ]
            got = got[5:]
        else:
            await peer.start_data()
            await peer.send(payload + b"QUIT\r\n")
            got = await peer.until_eof()
    finally:
        await peer.close()
    handler = live.handler
    assert handler.senders == [ALICE]
    assert handler.recipients == [BOB]
    if has_bare_line_ending(payload):
        assert handler.messages == []
        assert got == [enhanced(replies.BARE_LINE_ENDING_IN_DATA), enhanced(replies.CLOSING)]
    else:
        ((envelope, message),) = handler.messages
        assert got == [queued(envelope), enhanced(replies.CLOSING)]
        assert strip_received(message) == unstuff(payload[:-3])
        assert SMUGGLED in message  # as data, never as commands
    await live.assert_healthy()


_FAKE_END_BYTES = st.lists(st.sampled_from([b"\r", b"\n", b".", b"\x00", b" ", b"a"]), max_size=8)


@pytest.mark.fuzz
@fuzz_settings(50)
@given(fake_end=_FAKE_END_BYTES.map(b"".join))
async def test_no_fake_end_of_data_executes_smuggled_commands(live: Live, fake_end: bytes) -> None:
    payload = _smuggling_payload(fake_end)
    # A fake end that is in fact CRLF.CRLF ends the data for real; what follows
    # it is then a legitimate command, not smuggled.
    assume((b"\r\n" + payload).find(b"\r\n.\r\n") == len(payload) - 3)
    live.handler.clear()
    peer = await live.peer()
    try:
        await peer.start_data()
        await peer.send(payload + b"QUIT\r\n")
        got = await peer.until_eof()
    finally:
        await peer.close()
    handler = live.handler
    assert (handler.senders, handler.recipients) == ([ALICE], [BOB])
    if has_bare_line_ending(payload):
        assert handler.messages == []
        assert got == [enhanced(replies.BARE_LINE_ENDING_IN_DATA), enhanced(replies.CLOSING)]
    else:
        ((envelope, message),) = handler.messages
        assert got == [queued(envelope), enhanced(replies.CLOSING)]
        assert strip_received(message) == unstuff(payload[:-3])
    await live.assert_released()


# --- floods and back-pressure ---------------------------------------------


async def test_10000_pipelined_commands_in_one_write_are_all_answered(
    serve: ServerFactory,
) -> None:
    # Pipelining, not junk.
    live = await serve(idle_timeout=5.0, max_junk_commands=None, max_commands_before_mail=None)
    peer = await live.peer()
    try:
        await peer.send(b"EHLO client.test\r\n" + b"NOOP\r\nRSET\r\n" * 5000 + b"QUIT\r\n")
        got = await peer.until_eof()
    finally:
        await peer.close()
    assert len(got) == 1 + 1 + 10_000 + 1
    assert got[2:-1] == [enhanced(replies.OK), enhanced(replies.RESET_OK)] * 5000
    assert got[-1] == enhanced(replies.CLOSING)
    await live.assert_healthy()


def _held_by(conn: SMTPConnection) -> int:
    """Octets one connection holds in user space: input, pending replies, write buffer."""
    transport = conn._transport
    written = transport.get_write_buffer_size() if transport is not None else 0
    return len(conn._buf) + sum(map(len, conn._out)) + written


async def test_client_that_never_reads_meets_back_pressure_then_idle_timeout(
    serve: ServerFactory,
) -> None:
    """RFC 2920 §3.2 pipelining with a reader that never reads.

    The server must stop reading (so the sender stalls) with bounded memory,
    and once the client goes quiet, free the connection at ``idle_timeout``
    even though its replies can never be delivered.
    """
    idle = 0.5
    # The flood is NOOPs: the junk-command limits would end it before back-pressure.
    live = await serve(idle_timeout=idle, max_junk_commands=None, max_commands_before_mail=None)
    loop = asyncio.get_running_loop()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16384)
    sock.setblocking(False)
    sent = 0
    held: list[int] = []
    cap = 256 * 1024 * 1024

    async def flood() -> None:
        nonlocal sent
        batch = b"NOOP\r\n" * 10_000
        # The server may end the connection at its idle timeout while the
        # sender is still blocked: that is the end this test expects.
        with contextlib.suppress(ConnectionError):
            while sent < cap:
                await loop.sock_sendall(sock, batch)
                sent += len(batch)

    try:
        await loop.sock_connect(sock, ("127.0.0.1", live.port))
        conn = await live.wait_for_connection()
        sender = asyncio.create_task(flood())
        try:
            # Wait until the sender has made no progress for a while (stalled)
            # or the server has cut it off.
            last, quiet_since = -1, time.monotonic()
            deadline = time.monotonic() + 10
            while (
                time.monotonic() - quiet_since < 0.3
                and time.monotonic() < deadline
                and not sender.done()
            ):
                await asyncio.sleep(0.02)
                held.append(_held_by(conn))
                if sent != last:
                    last, quiet_since = sent, time.monotonic()
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender
        # Kernel buffers on both sides hold a few MiB; the rest must wait.
        assert sent < cap // 4, f"the server read {sent} octets without pushing back"
        assert max(held) < MEMORY_BOUND, f"one connection held {max(held)} octets"
        # The client stays connected and silent; the server must let it go.
        freed = await eventually(lambda: live.server.connection_count == 0, idle + 3.0)
        assert freed, "connection still held after its idle timeout (client never reads)"
    finally:
        sock.close()
    await live.assert_healthy()


@pytest.mark.parametrize("command", [b"NOOP\r\n", b"HELP\n", b"EHLO x\n"])
async def test_replies_a_non_reading_client_provokes_stay_bounded(
    serve: ServerFactory, command: bytes
) -> None:
    """Short commands with long replies (``HELP``: 5 octets in, ~140 out) must
    not let one connection hold more than the bound when its client never
    reads: the server should stop taking commands while replies pile up, not
    only once its input buffer is empty."""
    # The junk-command limits would end a NOOP or HELP flood before it tests this.
    live = await serve(idle_timeout=5.0, max_junk_commands=None, max_commands_before_mail=None)
    # A host with large receive buffers (Linux autotunes up to tcp_rmem's
    # 6 MiB): the flood reaches the server in 256 KiB reads.
    for listening in live.server._server.sockets:  # type: ignore[union-attr]
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
    loop = asyncio.get_running_loop()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 * 1024 * 1024)
    sock.setblocking(False)
    held: list[int] = []
    try:
        await loop.sock_connect(sock, ("127.0.0.1", live.port))
        conn = await live.wait_for_connection()
        flood = command * (2 * 1024 * 1024 // len(command))
        sent = 0
        with contextlib.suppress(BlockingIOError):
            while sent < len(flood):
                sent += sock.send(flood[sent:])
        # Block the event loop (as a busy server would be) so that the flood
        # is waiting in the kernel and arrives in large reads.
        time.sleep(0.2)  # noqa: ASYNC251
        for _ in range(40):
            await asyncio.sleep(0.01)
            held.append(_held_by(conn))
    finally:
        sock.close()
    assert max(held) < MEMORY_BOUND, f"one connection held {max(held)} octets"
    await live.assert_healthy()


async def test_silent_client_is_freed_at_idle_timeout(serve: ServerFactory) -> None:
    idle = 0.5
    live = await serve(idle_timeout=idle)
    peer = await live.peer()
    try:
        await peer.greeting()
        started = time.monotonic()  # before the last activity the server sees
        await peer.send(b"EHLO client.test\r\nNO")  # a partial line, then silence
        await peer.reply()
        got = await peer.until_eof()
        waited = time.monotonic() - started
    finally:
        await peer.close()
    assert got == [enhanced(replies.IDLE_TIMEOUT)]
    # The watchdog re-checks about once a second after its first deadline;
    # the rest is slack for a loaded machine.
    assert idle <= waited <= idle + 2.5
    await live.assert_healthy()


# --- half-close, drops, many connections --------------------------------


async def test_half_closed_client_gets_every_reply_then_server_closes(live: Live) -> None:
    peer = await live.peer()
    try:
        await peer.send(b"NOOP\r\nNOOP\r\n")
        peer.writer.write_eof()
        got = await peer.until_eof()
    finally:
        await peer.close()
    assert got[1:] == [plain(replies.OK), plain(replies.OK)]
    await live.assert_healthy()


async def test_half_close_after_a_partial_line_answers_the_complete_ones(live: Live) -> None:
    peer = await live.peer()
    try:
        await peer.send(b"EHLO client.test\r\nNOOP\r\nQUI")
        peer.writer.write_eof()
        got = await peer.until_eof()
    finally:
        await peer.close()
    assert len(got) == 3
    assert got[2] == enhanced(replies.OK)
    await live.assert_healthy()


@pytest.mark.parametrize("how", ["fin", "rst"])
@pytest.mark.parametrize(
    "partial",
    [b"", b"Subject: x\r\n\r\nhalf a mess", b"line\r\n.", b"line\r\n", b"line\r\n.\r"],
    ids=["nothing", "mid-line", "after-dot", "after-crlf", "almost-end"],
)
async def test_drop_mid_data_calls_no_handler(live: Live, how: str, partial: bytes) -> None:
    peer = await live.peer()
    try:
        await peer.start_data()
        await peer.send(partial)
        await live.wait_for_connection()
    finally:
        if how == "rst":
            peer.reset()
        await peer.close()
    await live.assert_released()
    assert live.handler.messages == []
    await live.assert_healthy()


@pytest.mark.parametrize("how", ["fin", "rst"])
@pytest.mark.parametrize(
    "chunks",
    [
        b"BDAT 100 LAST\r\n",
        b"BDAT 100 LAST\r\n" + b"x" * 50,
        b"BDAT 10\r\n0123456789BDAT 10 LAST\r\n01234",
        b"BDAT 10\r\n0123456789",
        b"BDAT 10\r\n0123456789BDAT 0 LA",
    ],
    ids=["header-only", "half-chunk", "second-chunk", "between-chunks", "partial-command"],
)
async def test_drop_mid_bdat_calls_no_handler(live: Live, how: str, chunks: bytes) -> None:
    peer = await live.peer()
    try:
        await peer.greeting()
        await peer.send(ENVELOPE + chunks)
        await peer.replies(3)
        await live.wait_for_connection()
    finally:
        if how == "rst":
            peer.reset()
        await peer.close()
    await live.assert_released()
    assert live.handler.messages == []
    await live.assert_healthy()


async def test_many_connections_opened_and_dropped(serve: ServerFactory) -> None:
    # 200 connections from one address: the per-source limits would refuse most.
    live = await serve(
        idle_timeout=5.0, max_connections_per_peer=None, max_connection_rate_per_peer=None
    )

    async def one(i: int) -> None:
        peer = await live.peer()
        try:
            match i % 5:
                case 0:
                    pass  # gone before the greeting is read
                case 1:
                    await peer.greeting()
                case 2:
                    await peer.send(b"EHLO client.test\r\nMAIL FROM:<")
                case 3:
                    await peer.send(ENVELOPE + b"DATA\r\nSubject: x\r\n")
                case _:
                    await peer.send(b"NOOP\r\n")
                    await peer.reply()
        finally:
            if i % 2:
                peer.reset()
            await peer.close()

    for _ in range(4):
        await asyncio.gather(*(one(i) for i in range(50)))
    await live.assert_released()
    assert live.handler.messages == []
    await live.assert_healthy()


# --- slow clients: the abuser is cut off, everyone else is served ----------

GOOD_SENDER = "good@example.test"
# The well-behaved client's address: a second loopback address, so that limits
# kept per peer address apply to the abuser only.
GOOD_SOURCE = "127.0.0.2"


async def drip(peer: Peer, unit: bytes, every: float) -> list[bytes]:
    """Send ``unit`` every ``every`` seconds until the server closes; its replies.

    Replies are read as they arrive, so a reply the server sends just before it
    closes is read even if a later ``unit`` then meets a reset.
    """

    async def read_all() -> bytes:
        data = b""
        with contextlib.suppress(ConnectionError):
            while chunk := await peer.reader.read(65536):
                data += chunk
        return data

    reading = asyncio.create_task(read_all())
    async with asyncio.timeout(4 * STEP):
        while not reading.done():
            with contextlib.suppress(ConnectionError):
                await peer.send(unit)
            await asyncio.wait({reading}, timeout=every)
    return split_replies(await reading)


async def complete_transaction(peer: Peer, *, login: bytes | None = None) -> None:
    """EHLO, [AUTH,] MAIL, RCPT, DATA and QUIT from a greeted client, all accepted."""
    await peer.send(b"EHLO good.test\r\n")
    assert (await peer.reply()).startswith(b"250-")
    if login is not None:
        await peer.send(b"AUTH PLAIN " + login + b"\r\n")
        assert await peer.reply() == enhanced(replies.AUTH_SUCCEEDED)
    await peer.send(f"MAIL FROM:<{GOOD_SENDER}>\r\nRCPT TO:<{BOB}>\r\nDATA\r\n".encode())
    assert await peer.replies(3) == [
        enhanced(replies.SENDER_OK),
        enhanced(replies.RECIPIENT_OK),
        plain(replies.START_MAIL_INPUT),
    ]
    await peer.send(b"Subject: still served\r\n\r\nhello\r\n.\r\nQUIT\r\n")
    accepted, closing = await peer.replies(2)
    assert accepted.startswith(b"250 2.0.0 OK: queued as ")
    assert closing == enhanced(replies.CLOSING)


@pytest.mark.parametrize(
    "start",
    [ENVELOPE + b"DATA\r\n", ENVELOPE + b"BDAT 100000 LAST\r\n"],
    ids=["data", "bdat"],
)
async def test_transfer_below_the_minimum_rate_is_421_and_calls_no_handler(
    serve: ServerFactory, start: bytes
) -> None:
    live = await serve(idle_timeout=5.0, min_data_rate=50, data_rate_grace=0.5)
    peer = await live.peer()
    try:
        await peer.greeting()
        await peer.send(start)
        await peer.replies(start.count(b"\r\n") - 1)  # EHLO, MAIL, RCPT (DATA: 354 too)
        conn = live.connection()
        got = await drip(peer, b"x", every=0.2)  # 5 octets/s, a tenth of the rate
    finally:
        await peer.close()
    assert got[-1] == enhanced(replies.DATA_TOO_SLOW)
    assert len(conn._buf) < 1024  # nothing piles up while the client dawdles
    assert live.handler.messages == []
    await live.assert_healthy()


async def test_bdat_one_octet_chunks_below_the_rate_are_421_however_quick_each_chunk(
    serve: ServerFactory,
) -> None:
    """The rate runs from the first chunk to the end of the transaction: a
    client sending ``BDAT 1`` and its octet every so often gets no fresh grace
    per chunk, and the pauses between chunks count."""
    live = await serve(idle_timeout=5.0, min_data_rate=50, data_rate_grace=0.5)
    peer = await live.peer()
    try:
        await peer.greeting()
        await peer.send(ENVELOPE)
        await peer.replies(3)
        # 9 octets (the BDAT command counts too) every 0.25 s: 36 octets/s.
        got = await drip(peer, b"BDAT 1\r\nx", every=0.25)
    finally:
        await peer.close()
    assert got[-1] == enhanced(replies.DATA_TOO_SLOW)
    assert set(got[:-1]) == {enhanced(replies.CHUNK_OK)}
    assert live.handler.messages == []
    await live.assert_healthy()


async def test_slow_start_and_steady_transfer_are_within_the_rate(serve: ServerFactory) -> None:
    """A pause inside the grace period, then data well above the rate for
    longer than the grace: the message is delivered."""
    live = await serve(idle_timeout=5.0, min_data_rate=100, data_rate_grace=1.0)
    peer = await live.peer()
    try:
        await peer.start_data()
        await asyncio.sleep(0.3)  # the client's pace: a slow start inside the grace
        for _ in range(15):  # 1.5 s at about 10,000 octets/s, 100 times the rate
            await peer.send(b"y" * 998 + b"\r\n")
            await asyncio.sleep(0.1)
        await peer.send(b".\r\nQUIT\r\n")
        got = await peer.until_eof()
    finally:
        await peer.close()
    ((envelope, message),) = live.handler.messages
    assert got == [queued(envelope), enhanced(replies.CLOSING)]
    assert strip_received(message) == (b"y" * 998 + b"\r\n") * 15
    await live.assert_healthy()


@dataclass(frozen=True)
class Abuse:
    """One way to hold on to the server: what it configures and what the abuser does.

    ``run(live, engaged, release)`` sets ``engaged`` once the abuse is under way,
    keeps it up until the server ends it or ``release`` is set, and asserts how
    the server answered it.
    """

    config: dict[str, Any]
    run: Callable[[Live, asyncio.Event, asyncio.Event], Awaitable[None]]
    handler: type[Recorder] = Recorder
    login: bytes | None = None  # the well-behaved client logs in with this first


RIGHT_LOGIN = base64.b64encode(b"\0alice\0secret")
WRONG_LOGIN = base64.b64encode(b"\0alice\0guess")


async def _guess_passwords(live: Live, engaged: asyncio.Event, release: asyncio.Event) -> None:
    """Two connections of two wrong guesses each (the per-session limit), then
    AUTH on new connections: refused with 454 even with the right password."""
    guess = b"AUTH PLAIN " + WRONG_LOGIN + b"\r\n"
    for _ in range(2):
        peer = await live.peer()
        try:
            await peer.greeting()
            await peer.send(b"EHLO client.test\r\n" + guess * 2)
            got = (await peer.until_eof())[1:]
        finally:
            await peer.close()
        failed = enhanced(replies.AUTH_FAILED)
        assert got == [failed, failed, enhanced(replies.TOO_MANY_AUTH_FAILURES)]
    for attempt in range(2):
        peer = await live.peer()
        try:
            await peer.greeting()
            await peer.send(b"EHLO client.test\r\nAUTH PLAIN " + RIGHT_LOGIN + b"\r\n")
            _ehlo, auth = await peer.replies(2)
        finally:
            await peer.close()
        assert auth == enhanced(replies.AUTH_THROTTLED)
        if attempt == 0:
            engaged.set()
            await asyncio.wait_for(release.wait(), 4 * STEP)


async def _trickle_data(live: Live, engaged: asyncio.Event, release: asyncio.Event) -> None:
    peer = await live.peer()
    try:
        await peer.start_data()
        engaged.set()
        got = await drip(peer, b"x", every=0.1)  # 10 octets/s, the rate asks for 50
    finally:
        await peer.close()
    assert got == [enhanced(replies.DATA_TOO_SLOW)]


async def _noop_forever(live: Live, engaged: asyncio.Event, release: asyncio.Event) -> None:
    peer = await live.peer()
    try:
        await peer.greeting()
        await peer.send(b"EHLO client.test\r\n")
        await peer.reply()
        engaged.set()
        got = await drip(peer, b"NOOP\r\n", every=0.05)
    finally:
        await peer.close()
    assert got[-1] == enhanced(replies.SESSION_TOO_LONG)
    assert set(got[:-1]) == {enhanced(replies.OK)}


async def _commands_then_one_more(
    live: Live, engaged: asyncio.Event, release: asyncio.Event, commands: list[bytes]
) -> list[bytes]:
    """EHLO and ``commands`` pipelined, then (once released) one NOOP more:
    every reply after EHLO's, to the end of the connection."""
    peer = await live.peer()
    try:
        await peer.greeting()
        await peer.send(b"EHLO client.test\r\n" + b"".join(commands))
        got = (await peer.replies(1 + len(commands)))[1:]
        engaged.set()
        await asyncio.wait_for(release.wait(), 4 * STEP)
        await peer.send(b"NOOP\r\n")
        return got + await peer.until_eof()
    finally:
        await peer.close()


async def _junk_forever(live: Live, engaged: asyncio.Event, release: asyncio.Event) -> None:
    """As many NOOPs as the limit allows, then (once released) one more."""
    limit = live.server.config.max_junk_commands
    assert limit is not None
    got = await _commands_then_one_more(live, engaged, release, [b"NOOP\r\n"] * limit)
    assert got == [enhanced(replies.OK)] * limit + [enhanced(replies.TOO_MANY_JUNK_COMMANDS)]


async def _loop_without_mail(live: Live, engaged: asyncio.Event, release: asyncio.Event) -> None:
    """RSET, NOOP and HELP, never a message: as many as the limit allows (EHLO
    counts), then (once released) one more."""
    limit = live.server.config.max_commands_before_mail
    assert limit is not None
    loop = [b"RSET\r\n", b"NOOP\r\n", b"HELP\r\n"]
    commands = [loop[i % 3] for i in range(limit - 1)]
    got = await _commands_then_one_more(live, engaged, release, commands)
    assert [reply[:3] for reply in got[:-1]] == [
        b"214" if c == b"HELP\r\n" else b"250" for c in commands
    ]
    assert got[-1] == enhanced(replies.TOO_MANY_COMMANDS_BEFORE_MAIL)


async def _reconnect_fast(
    live: Live, engaged: asyncio.Event, release: asyncio.Event, *, source: str
) -> None:
    """Connect and quit as fast as possible from ``source``: once its burst is
    spent, the next connection is refused at once, while its count is zero."""
    limit = live.server.config.max_connection_rate_per_peer
    assert limit is not None
    for _ in range(limit):
        peer = await live.peer(source=source)
        try:
            await peer.greeting()
            await peer.send(b"QUIT\r\n")
            assert await peer.until_eof() == [plain(replies.CLOSING)]
        finally:
            await peer.close()
    extra = await live.peer(source=source)
    try:
        assert await extra.until_eof() == [plain(replies.CONNECTION_RATE_EXCEEDED)]
    finally:
        await extra.close()
    engaged.set()
    await asyncio.wait_for(release.wait(), 4 * STEP)


async def _hold_connections(
    live: Live,
    engaged: asyncio.Event,
    release: asyncio.Event,
    *,
    sources: list[str],
    refusal: Reply,
) -> None:
    """Open one idle connection from each of ``sources``, then one more from the
    last, which must be refused with ``refusal``; hold the rest until ``release``."""
    held = [await live.peer(source=source) for source in sources]
    try:
        for peer in held:
            await peer.greeting()
        extra = await live.peer(source=sources[-1])
        try:
            assert await extra.until_eof() == [plain(refusal)]
        finally:
            await extra.close()
        engaged.set()
        await asyncio.wait_for(release.wait(), 4 * STEP)
    finally:
        for peer in held:
            await peer.close()


ABUSES = [
    pytest.param(
        Abuse(
            {
                "auth_require_tls": False,
                "max_auth_failures": 2,
                "auth_throttle_failures": 4,
                "auth_failure_delay": 0.01,
            },
            _guess_passwords,
            handler=AccountsRecorder,
            login=RIGHT_LOGIN,
        ),
        id="auth-brute-force-across-connections",
    ),
    pytest.param(
        Abuse({"min_data_rate": 50, "data_rate_grace": 1.0}, _trickle_data),
        id="data-below-min-rate",
    ),
    pytest.param(
        Abuse({"max_junk_commands": 20, "max_commands_before_mail": None}, _junk_forever),
        id="noop-past-junk-limit",
    ),
    pytest.param(
        Abuse(
            {
                "max_session_time": 1.5,
                "idle_timeout": 30.0,
                "max_junk_commands": None,
                "max_commands_before_mail": None,
            },
            _noop_forever,
        ),
        id="noop-past-session-lifetime",
    ),
    pytest.param(
        Abuse(
            {"max_connections_per_peer": 3, "idle_timeout": 30.0},
            functools.partial(
                _hold_connections,
                sources=["127.0.0.1"] * 3,
                refusal=replies.TOO_MANY_CONNECTIONS_FROM_PEER,
            ),
        ),
        id="idle-connections-past-per-peer-cap",
    ),
    pytest.param(
        Abuse(
            {"max_connection_rate_per_peer": 3},
            functools.partial(_reconnect_fast, source="127.0.0.6"),
        ),
        id="new-connections-past-per-peer-rate",
    ),
    pytest.param(
        Abuse({"max_commands_before_mail": 6}, _loop_without_mail),
        id="rset-noop-help-past-commands-before-mail",
    ),
    pytest.param(
        # The well-behaved client holds the fourth slot already.
        Abuse(
            {"max_connections": 4, "idle_timeout": 30.0},
            functools.partial(
                _hold_connections,
                sources=["127.0.0.3", "127.0.0.4", "127.0.0.5"],
                refusal=replies.TOO_MANY_CONNECTIONS,
            ),
        ),
        id="connections-past-global-cap",
    ),
]


@pytest.mark.parametrize("abuse", ABUSES)
async def test_abuser_is_cut_off_while_another_client_completes_a_transaction(
    serve: ServerFactory, abuse: Abuse
) -> None:
    """While one client abuses a limit, another (already connected, from another
    address) completes a whole transaction; then the abuser meets the limit.

    The limits are a few seconds and a transaction on loopback takes
    milliseconds: the abuse is still under way when the transaction ends.
    """
    live = await serve(abuse.handler(), **{"idle_timeout": 5.0, **abuse.config})
    good = await live.peer(source=GOOD_SOURCE)
    engaged, release = asyncio.Event(), asyncio.Event()
    try:
        await good.greeting()
        abuser = asyncio.create_task(abuse.run(live, engaged, release))
        done, _ = await asyncio.wait(
            {abuser, asyncio.create_task(engaged.wait())},
            timeout=STEP,
            return_when=asyncio.FIRST_COMPLETED,
        )
        assert engaged.is_set(), f"the abuse never got under way: {done}"
        await complete_transaction(good, login=abuse.login)
        assert not abuser.done(), "the abuse ended before the other client was served"
        release.set()
        await asyncio.wait_for(abuser, 4 * STEP)
    finally:
        release.set()
        await good.close()
    assert [envelope.mail_from for envelope, _ in live.handler.messages] == [GOOD_SENDER]
    await live.assert_healthy()


# --- the same attacks under uvloop (what the standalone server runs on) -----

UVLOOP_CASES: dict[str, tuple[Callable[..., Awaitable[None]], dict[str, Any]]] = {
    "garbage-line": (
        test_100_kib_line_gets_one_500_and_its_tail_is_never_executed,
        {"tail": b"QUIT"},
    ),
    "8-mib-line": (test_8_mib_line_without_lf_keeps_memory_bounded, {}),
    "smuggling": (
        test_smuggling_yields_one_transaction_or_none,
        {"fake_end": FAKE_ENDS["lf-dot-crlf"], "pipelined": True},
    ),
    "flood": (test_10000_pipelined_commands_in_one_write_are_all_answered, {}),
    "never-reads": (test_client_that_never_reads_meets_back_pressure_then_idle_timeout, {}),
    "silent": (test_silent_client_is_freed_at_idle_timeout, {}),
    "half-close": (test_half_closed_client_gets_every_reply_then_server_closes, {}),
    "half-close-partial": (test_half_close_after_a_partial_line_answers_the_complete_ones, {}),
    "drop-mid-data": (test_drop_mid_data_calls_no_handler, {"how": "rst", "partial": b"line\r\n."}),
    "drop-mid-bdat": (
        test_drop_mid_bdat_calls_no_handler,
        {"how": "fin", "chunks": b"BDAT 100 LAST\r\n" + b"x" * 50},
    ),
    "many-connections": (test_many_connections_opened_and_dropped, {}),
    # The data-rate check re-arms the watchdog with the loop's own TimerHandle.
    "min-data-rate": (
        test_transfer_below_the_minimum_rate_is_421_and_calls_no_handler,
        {"start": ENVELOPE + b"DATA\r\n"},
    ),
}


@pytest.mark.parametrize("name", UVLOOP_CASES)
def test_under_uvloop(name: str) -> None:
    uvloop = pytest.importorskip("uvloop")
    case, kwargs = UVLOOP_CASES[name]

    async def main() -> None:
        assert type(asyncio.get_running_loop()).__module__.startswith("uvloop")
        async with servers() as serve:
            if "serve" in inspect.signature(case).parameters:
                await case(serve=serve, **kwargs)
            else:
                await case(live=await serve(idle_timeout=5.0), **kwargs)

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main())
