"""Literals of every kind over a real socket pair: an asyncio server reads, a client writes.

The client is a raw socket stream, so each test can check exactly what the
server sent back (the continuation request or the refusal) before sending more.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from imap_gateway.wire import codes, encoder
from imap_gateway.wire.errors import (
    ConnectionClosed,
    LineTooLong,
    LiteralTooBig,
    NonSyncLiteralTooBig,
    Recovery,
    WireError,
)
from imap_gateway.wire.framing import RawCommand
from imap_gateway.wire.limits import WireLimits
from imap_gateway.wire.reader import CommandReader, continuation_sender

CONTINUATION = encoder.continuation()
LIMITS = WireLimits(max_literal_size=100_000, max_command_size=200_000, max_discard=300_000)


@dataclass
class Pair:
    """The server's reader and a client connected to it; ``results`` gets what it read."""

    client_reader: asyncio.StreamReader
    client_writer: asyncio.StreamWriter
    results: asyncio.Queue[RawCommand | WireError | ConnectionClosed]

    async def send(self, data: bytes) -> None:
        self.client_writer.write(data)
        await self.client_writer.drain()

    async def received(self, size: int) -> bytes:
        return await asyncio.wait_for(self.client_reader.readexactly(size), 5)

    async def result(self) -> RawCommand | WireError | ConnectionClosed:
        return await asyncio.wait_for(self.results.get(), 5)


@pytest.fixture
async def pair() -> AsyncIterator[Pair]:
    results: asyncio.Queue[RawCommand | WireError | ConnectionClosed] = asyncio.Queue()

    async def serve(stream: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # A session loop in miniature: answer errors, follow their recovery rule.
        reader = CommandReader(stream, continuation_sender(writer), LIMITS)
        while True:
            try:
                results.put_nowait(await reader.read_command())
            except WireError as error:
                writer.write(encoder.response_for(error).encode())
                await writer.drain()
                results.put_nowait(error)
                if error.recovery is Recovery.CLOSE:
                    break
            except ConnectionClosed as closed:
                results.put_nowait(closed)
                break
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client_reader, client_writer = await asyncio.open_connection("127.0.0.1", port)
    yield Pair(client_reader, client_writer, results)
    client_writer.close()
    await client_writer.wait_closed()
    server.close()
    await server.wait_closed()


async def test_synchronizing_literal_waits_for_the_continuation(pair: Pair) -> None:
    await pair.send(b"a1 LOGIN {3}\r\n")
    assert await pair.received(len(CONTINUATION)) == CONTINUATION
    await pair.send(b"bob {4}\r\n")
    assert await pair.received(len(CONTINUATION)) == CONTINUATION
    await pair.send(b"pass\r\n")
    assert await pair.result() == RawCommand((b"a1 LOGIN {3}", b" {4}", b""), (b"bob", b"pass"))


async def test_literal_plus_is_read_without_a_continuation(pair: Pair) -> None:
    await pair.send(b"a1 LOGIN {3+}\r\nbob {4+}\r\npass\r\na2 NOOP\r\n")
    assert await pair.result() == RawCommand((b"a1 LOGIN {3+}", b" {4+}", b""), (b"bob", b"pass"))
    assert await pair.result() == RawCommand((b"a2 NOOP",))
    pair.client_writer.write_eof()
    assert isinstance(await pair.result(), ConnectionClosed)
    assert await pair.client_reader.read() == b""  # no continuation was ever sent


async def test_literal8_is_binary_and_synchronizing(pair: Pair) -> None:
    await pair.send(b"a1 APPEND INBOX ~{3}\r\n")
    assert await pair.received(len(CONTINUATION)) == CONTINUATION
    await pair.send(b"\x00\x01\x02\r\n")
    assert await pair.result() == RawCommand((b"a1 APPEND INBOX ~{3}", b""), (b"\x00\x01\x02",))


async def test_literal_minus_refuses_a_nonsync_literal_over_4096(pair: Pair) -> None:
    # RFC 7888 §4: BAD [TOOBIG]; the client sends the octets anyway, they are dropped.
    await pair.send(b"a1 APPEND INBOX {4097+}\r\n" + b"x" * 4097 + b"\r\na2 NOOP\r\n")
    error = await pair.result()
    assert isinstance(error, NonSyncLiteralTooBig)
    assert (error.tag, error.status, error.code) == ("a1", codes.BAD, codes.TOOBIG)
    assert error.recovery is Recovery.NEXT_COMMAND
    assert await pair.result() == RawCommand((b"a2 NOOP",))


async def test_literal_of_4096_octets_is_within_literal_minus(pair: Pair) -> None:
    await pair.send(b"a1 APPEND INBOX {4096+}\r\n" + b"y" * 4096 + b"\r\n")
    result = await pair.result()
    assert isinstance(result, RawCommand)
    assert result.literals == (b"y" * 4096,)


async def test_too_big_literal_is_answered_without_continuation(pair: Pair) -> None:
    # RFC 7889 §4: an APPEND over APPENDLIMIT is NO [TOOBIG], sent instead of "+".
    await pair.send(b"a1 APPEND INBOX {100001}\r\n")
    line = await asyncio.wait_for(pair.client_reader.readline(), 5)
    assert line.startswith(b"a1 NO [TOOBIG] ")
    error = await pair.result()
    assert isinstance(error, LiteralTooBig)
    assert error.recovery is Recovery.NEXT_COMMAND
    # The client never sent the literal; the next command is read normally.
    await pair.send(b"a2 NOOP\r\n")
    assert await pair.result() == RawCommand((b"a2 NOOP",))


async def test_too_big_literal_outside_append_is_bad(pair: Pair) -> None:
    await pair.send(b"a1 LOGIN {100001}\r\n")
    line = await asyncio.wait_for(pair.client_reader.readline(), 5)
    assert line.startswith(b"a1 BAD [TOOBIG] ")


async def test_huge_nonsync_literal_closes_the_session(pair: Pair) -> None:
    # Past max_discard it is cheaper to hang up than to read a literal bomb.
    await pair.send(b"a1 APPEND INBOX {99999999999+}\r\nxxxx")
    error = await pair.result()
    assert isinstance(error, LiteralTooBig)
    assert error.recovery is Recovery.CLOSE


async def test_long_line_is_answered_and_its_rest_dropped(pair: Pair) -> None:
    await pair.send(b"a1 NOOP " + b"z" * 70_000 + b"\r\na2 NOOP\r\n")
    error = await pair.result()
    assert isinstance(error, LineTooLong)
    assert (error.tag, error.status) == ("a1", codes.BAD)
    assert await pair.result() == RawCommand((b"a2 NOOP",))


async def test_eof_mid_command_is_connection_closed(pair: Pair) -> None:
    await pair.send(b"a1 LOGIN {3+}\r\nbo")
    pair.client_writer.write_eof()
    closed = await pair.result()
    assert isinstance(closed, ConnectionClosed)
    assert "mid-command" in str(closed)


async def test_deadline_bounds_a_trickling_command() -> None:
    stream = asyncio.StreamReader()
    stream.feed_data(b"a1 NOOP")  # and then nothing more

    async def no_continuation() -> None:
        raise AssertionError("no literal here")

    reader = CommandReader(stream, no_continuation, LIMITS)
    loop = asyncio.get_running_loop()
    with pytest.raises(TimeoutError):
        await reader.read_command(deadline=loop.time() + 0.05)


async def test_read_line_reads_a_bare_line_for_idle_and_sasl() -> None:
    stream = asyncio.StreamReader()
    stream.feed_data(b"DONE\r\na2 NOOP\r\n")

    async def no_continuation() -> None:
        raise AssertionError("no literal here")

    reader = CommandReader(stream, no_continuation, LIMITS)
    assert await reader.read_line() == b"DONE"
    assert await reader.read_command() == RawCommand((b"a2 NOOP",))
