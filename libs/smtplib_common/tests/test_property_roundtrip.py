"""Property: any message body arrives byte-identical, over DATA and over BDAT.

"Identical" means precisely: the handler's ``message``, with the one
``Received:`` header the server puts first removed, equals the *client's wire
form before dot-stuffing* of the body. That wire form is the body with every
CRLF, bare CR and bare LF turned into CRLF (a CRLF counts once), and a final
CRLF appended when the body is not empty and does not end with one. It is the
message as the sender means it; dot-stuffing (RFC 5321 §4.5.2) is transport
encoding that DATA adds and the server removes, and BDAT (RFC 3030) sends the
octets as they are.

Bodies are lists of lines drawn from every octet but CR and LF (8-bit,
binary), UTF-8 text, and the lines that stress framing: ``.``, ``..``, a
lone ``.``, lines starting with dots, empty lines, lines of exactly the
server's ``data_line_limit``; with or without a final line ending.

Two senders: a minimal raw-socket one in this file (stuffing done here), and
our client (:mod:`smtplib_common.client`).
"""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from smtplib_common import replies
from smtplib_common.client import SMTPClient
from smtplib_common.server import Envelope, ServerConfig, Session, SMTPServer

HOSTNAME = "roundtrip.test"
SENDER = "alice@example.test"
RECIPIENT = "bob@example.test"
# Small, so that lines of exactly the limit stay cheap to generate and send.
LINE_LIMIT = 2000
_LINE_ENDING = re.compile(rb"\r\n|\r|\n")
_RECEIVED = re.compile(
    rb"Received: from [^\r\n]*\r\n\tby [^\r\n]*(?:\r\n\tfor <[^\r\n]*>)?;\r\n\t[^\r\n]*\r\n"
)


def wire_form(body: bytes) -> bytes:
    """The client's wire form before dot-stuffing (see the module docstring)."""
    content = _LINE_ENDING.sub(b"\r\n", body)
    if content and not content.endswith(b"\r\n"):
        content += b"\r\n"
    return content


def stuff(content: bytes) -> bytes:
    if content.startswith(b"."):
        content = b"." + content
    return content.replace(b"\r\n.", b"\r\n..")


def without_received(message: bytes) -> bytes:
    match = _RECEIVED.match(message)
    assert match is not None, f"no Received: header first: {message[:120]!r}"
    return message[match.end() :]


# --- strategies ------------------------------------------------------------

_OCTETS = st.characters(codec="latin-1", exclude_characters="\r\n")
_UTF8 = st.characters(codec="utf-8", exclude_characters="\r\n")
_SPECIAL_LINES = st.sampled_from(
    [
        b"",
        b".",
        b"..",
        b"...",
        b". ",
        b".\x00",
        b"\x00",
        b"From hello",
        b"x" * LINE_LIMIT,
        b"\xff" * LINE_LIMIT,
        b".." + b"y" * (LINE_LIMIT - 3),
        b"." + b"y" * (LINE_LIMIT - 1),
    ]
)
_LINES = st.one_of(
    _SPECIAL_LINES,
    st.text(_OCTETS, max_size=80).map(lambda s: s.encode("latin-1")),
    st.text(_UTF8, max_size=40).map(lambda s: s.encode("utf-8")),
    st.text(_OCTETS, max_size=80).map(lambda s: b"." + s.encode("latin-1")),
    st.text(_OCTETS, min_size=LINE_LIMIT - 41, max_size=LINE_LIMIT - 1).map(
        lambda s: b"." + s.encode("latin-1")
    ),
    st.text(_OCTETS, min_size=LINE_LIMIT - 40, max_size=LINE_LIMIT).map(
        lambda s: s.encode("latin-1")
    ),
)


LINES = st.lists(_LINES, max_size=15)


@st.composite
def bodies(draw: st.DrawFn, *, separators: list[bytes]) -> bytes:
    """A body from lines, each ended by one of ``separators``, the last maybe not."""
    lines = draw(LINES)
    if not lines:
        return b""
    ends = [draw(st.sampled_from(separators)) for _ in lines]
    if not draw(st.booleans()):
        ends[-1] = b""  # no final newline
    return b"".join(line + end for line, end in zip(lines, ends, strict=True))


CRLF_BODIES = bodies(separators=[b"\r\n"])
# Real users hand the client LF or CR files; the client must normalise them.
ANY_ENDING_BODIES = bodies(separators=[b"\r\n", b"\n", b"\r"])
CHUNK_CUTS = st.lists(st.integers(min_value=1, max_value=40_000), max_size=4)


# --- the server ------------------------------------------------------------


@dataclass
class Recorder:
    messages: list[tuple[Envelope, bytes]] = field(default_factory=list)

    async def handle_message(self, session: Session, envelope: Envelope, message: bytes) -> None:
        self.messages.append((envelope, message))

    def pop(self) -> tuple[Envelope, bytes]:
        ((envelope, message),) = self.messages
        self.messages.clear()
        return envelope, message


@dataclass
class Live:
    server: SMTPServer
    handler: Recorder

    @property
    def port(self) -> int:
        return self.server.port


@pytest.fixture
async def live() -> AsyncIterator[Live]:
    handler = Recorder()
    # Every hypothesis example connects anew from 127.0.0.1 to this one server.
    config = ServerConfig(
        hostname=HOSTNAME, data_line_limit=LINE_LIMIT, max_connection_rate_per_peer=None
    )
    server = SMTPServer(handler, config)
    await server.start("127.0.0.1", 0)
    try:
        yield Live(server, handler)
    finally:
        await server.stop(grace=1.0)


HYPOTHESIS = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)


# --- a minimal raw-socket sender -----------------------------------------


class RawSender:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def reply(self) -> bytes:
        lines = []
        async with asyncio.timeout(5):
            while True:
                line = await self.reader.readline()
                assert line.endswith(b"\r\n"), f"connection ended inside a reply: {line!r}"
                lines.append(line)
                if line[3:4] != b"-":
                    return b"".join(lines)

    async def command(self, line: bytes) -> bytes:
        self.writer.write(line)
        await self.writer.drain()
        return await self.reply()

    async def envelope(self) -> None:
        mail = await self.command(f"MAIL FROM:<{SENDER}> BODY=8BITMIME\r\n".encode())
        assert mail == replies.SENDER_OK.encode()
        assert await self.command(f"RCPT TO:<{RECIPIENT}>\r\n".encode()) == (
            replies.RECIPIENT_OK.encode()
        )

    async def data(self, content: bytes) -> bytes:
        await self.envelope()
        start = await self.command(b"DATA\r\n")
        assert start == replies.START_MAIL_INPUT.encode(enhanced=False)
        return await self.command(stuff(content) + b".\r\n")

    async def bdat(self, content: bytes, cuts: list[int]) -> bytes:
        await self.envelope()
        points = sorted({0, len(content), *(c for c in cuts if c < len(content))})
        chunks = [content[a:b] for a, b in itertools.pairwise(points)] or [b""]
        for chunk in chunks[:-1]:
            reply = await self.command(f"BDAT {len(chunk)}\r\n".encode() + chunk)
            assert reply == replies.CHUNK_OK.encode()
        last = chunks[-1]
        return await self.command(f"BDAT {len(last)} LAST\r\n".encode() + last)


@pytest.fixture
async def raw(live: Live) -> AsyncIterator[RawSender]:
    reader, writer = await asyncio.open_connection("127.0.0.1", live.port)
    sender = RawSender(reader, writer)
    try:
        assert (await sender.reply()).startswith(b"220 ")
        assert (await sender.command(b"EHLO raw.test\r\n")).startswith(b"250-")
        yield sender
        assert await sender.command(b"QUIT\r\n") == replies.CLOSING.encode()
    finally:
        writer.close()
        await writer.wait_closed()


def queued(envelope: Envelope) -> bytes:
    return replies.MESSAGE_ACCEPTED.with_text(f"OK: queued as {envelope.id}").encode()


@HYPOTHESIS
@given(body=CRLF_BODIES, cuts=CHUNK_CUTS)
@example(body=b"", cuts=[])
@example(body=b".", cuts=[])
@example(body=b".\r\n..\r\n.", cuts=[1, 2, 3])
@example(body=b"x" * LINE_LIMIT, cuts=[LINE_LIMIT])
async def test_raw_sender_body_arrives_identical_over_data_and_bdat(
    live: Live, raw: RawSender, body: bytes, cuts: list[int]
) -> None:
    content = wire_form(body)

    reply = await raw.data(content)
    envelope, message = live.handler.pop()
    assert reply == queued(envelope)
    assert without_received(message) == content

    reply = await raw.bdat(content, cuts)
    envelope, message = live.handler.pop()
    assert reply == queued(envelope)
    assert without_received(message) == content


async def test_line_of_exactly_the_limit_starting_with_a_dot_arrives_over_data(
    live: Live, raw: RawSender
) -> None:
    """RFC 5321 §4.5.3.1.6 does not count the stuffing dot; BDAT accepts the same line."""
    content = b"." + b"z" * (LINE_LIMIT - 1) + b"\r\n"
    reply = await raw.bdat(content, [])
    envelope, message = live.handler.pop()
    assert reply == queued(envelope)
    assert without_received(message) == content

    reply = await raw.data(content)
    assert reply != replies.DATA_LINE_TOO_LONG.encode()
    envelope, message = live.handler.pop()
    assert reply == queued(envelope)
    assert without_received(message) == content


async def test_line_one_over_the_limit_is_refused_over_data(live: Live, raw: RawSender) -> None:
    content = b"z" * (LINE_LIMIT + 1) + b"\r\n"
    assert await raw.data(content) == replies.DATA_LINE_TOO_LONG.encode()
    assert live.handler.messages == []


# --- through our client -----------------------------------------------------


@HYPOTHESIS
@given(
    body=ANY_ENDING_BODIES,
    use_bdat=st.booleans(),
    chunk_size=st.integers(min_value=1, max_value=70_000),
)
@example(body=b"", use_bdat=False, chunk_size=1)
@example(body=b".", use_bdat=False, chunk_size=1)
@example(body=b"a\rb\nc\r\n.\r..\n.", use_bdat=False, chunk_size=1)
@example(body=b"a\rb\nc\r\n.\r..\n.", use_bdat=True, chunk_size=3)
@example(body=b"\r\r\n\n", use_bdat=True, chunk_size=2)
async def test_client_body_arrives_identical(
    live: Live, body: bytes, use_bdat: bool, chunk_size: int
) -> None:
    client = SMTPClient(
        "127.0.0.1",
        live.port,
        local_hostname="client.test",
        use_bdat=use_bdat,
        bdat_chunk_size=chunk_size,
        timeout=5,
    )
    async with client:
        result = await client.send_raw(SENDER, [RECIPIENT], body)
    envelope, message = live.handler.pop()
    assert envelope.used_bdat is use_bdat
    assert (envelope.mail_from, envelope.rcpt_tos) == (SENDER, [RECIPIENT])
    assert without_received(message) == wire_form(body)
    assert result.data_response.code == replies.MESSAGE_ACCEPTED.code
    assert f"queued as {envelope.id}" in result.data_response.text
