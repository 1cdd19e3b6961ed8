"""Connection caps, timeouts and graceful stop (RFC 5321 §3.8, §4.5.3.2.7)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from smtplib_common import replies
from smtplib_common.replies import Reply
from smtplib_common.server import ServerConfig

if TYPE_CHECKING:
    from conftest import Connect, MakeServer

Config = Callable[..., ServerConfig]
Plain = Callable[[Reply], Reply]


async def test_idle_session_is_closed_with_421(
    make_server: MakeServer, connect: Connect, config: Config
) -> None:
    client = await connect(await make_server(config(idle_timeout=0.2)))
    await client.ehlo()
    started = asyncio.get_running_loop().time()

    assert await client.read_reply() == replies.IDLE_TIMEOUT
    assert await client.read_rest() == b""
    assert asyncio.get_running_loop().time() - started >= 0.15


async def test_idle_timeout_before_ehlo_has_no_enhanced_code(
    make_server: MakeServer, connect: Connect, config: Config, plain: Plain
) -> None:
    client = await connect(await make_server(config(idle_timeout=0.2)))

    assert await client.read_reply() == plain(replies.IDLE_TIMEOUT)


async def test_busy_session_is_closed_after_the_session_time_limit(
    make_server: MakeServer, connect: Connect, config: Config, plain: Plain
) -> None:
    # A client that is never idle still cannot hold the connection past
    # max_session_time. It stops writing halfway to the limit: a close while
    # its next NOOP is in flight would reset the connection and could destroy
    # the 421 before it is read (no lingering close). The clock starts before
    # the connection, so a slow greeting on a loaded machine eats into the
    # client's half, never into the server's margin (CI once saw the 421
    # arrive inside a 0.25 s loop against a 0.4 s limit).
    # NOOPs for half a second may be more than the junk-command limit.
    limit = 1.0
    cfg = config(
        idle_timeout=60,
        max_session_time=limit,
        max_junk_commands=None,
        max_commands_before_mail=None,
    )
    running = await make_server(cfg)
    loop = asyncio.get_running_loop()
    started = loop.time()
    client = await connect(running)
    noops = 0
    while loop.time() - started < limit / 2:
        assert await client.command("NOOP") == plain(replies.OK)
        noops += 1

    assert await client.read_reply() == plain(replies.SESSION_TOO_LONG)
    assert await client.read_rest() == b""
    assert noops > 10
    assert loop.time() - started >= limit * 0.9


async def test_connection_beyond_max_connections_is_421(
    make_server: MakeServer, connect: Connect, config: Config, plain: Plain
) -> None:
    running = await make_server(config(max_connections=2))
    first = await connect(running)
    await connect(running)

    third = await connect(running)

    assert third.greeting == plain(replies.TOO_MANY_CONNECTIONS)
    assert await third.read_rest() == b""
    # A slot frees up when a session ends.
    await first.command("QUIT")
    assert await first.read_rest() == b""
    fourth = await connect(running)
    assert fourth.greeting is not None
    assert fourth.greeting.code == 220


async def test_connection_beyond_max_per_peer_is_421(
    make_server: MakeServer, connect: Connect, config: Config, plain: Plain
) -> None:
    running = await make_server(config(max_connections_per_peer=1))
    first = await connect(running)

    second = await connect(running)

    assert second.greeting == plain(replies.TOO_MANY_CONNECTIONS_FROM_PEER)
    assert await second.read_rest() == b""
    assert (await first.ehlo()).code == 250
    assert running.server.connection_count == 1


async def test_stop_closes_idle_sessions_and_lets_a_transaction_in_data_finish(
    make_server: MakeServer, connect: Connect
) -> None:
    running = await make_server()
    idle = await connect(running)
    await idle.ehlo()
    busy = await connect(running)
    await busy.ehlo()
    got = await busy.send("MAIL FROM:<a@example.test>", "RCPT TO:<b@example.test>", "DATA")
    assert got[-1] == replies.START_MAIL_INPUT
    await busy.write(b"Subject: in flight\r\n\r\nfirst half\r\n")

    stopping = asyncio.create_task(running.server.stop(grace=5))

    # RFC 5321 §3.8: an idle session is told 421 and closed at once ...
    assert await idle.read_reply() == replies.SERVICE_UNAVAILABLE
    assert await idle.read_rest() == b""
    assert not stopping.done()
    # ... while the one in DATA completes its transaction, then gets the 421.
    reply = await busy.command(b"second half\r\n.\r\n")
    assert reply.code == 250
    assert await busy.read_reply() == replies.SERVICE_UNAVAILABLE
    assert await busy.read_rest() == b""
    async with asyncio.timeout(5):
        await stopping
    assert running.contents == [b"Subject: in flight\r\n\r\nfirst half\r\nsecond half\r\n"]


async def test_stop_refuses_new_connections(make_server: MakeServer) -> None:
    running = await make_server()
    port = running.port
    await running.server.stop()

    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", port)


async def test_a_slow_handler_is_not_cut_off_by_the_idle_timeout(
    make_server: MakeServer, connect: Connect, config: Config
) -> None:
    async def slow(*args: object) -> None:
        await asyncio.sleep(1.2)  # the handler's own work, e.g. a broker confirm

    # The client's own steps must fit in the idle timeout on a loaded machine.
    running = await make_server(config(idle_timeout=0.5), on_message=slow)
    client = await connect(running)
    await client.ehlo()

    got = await client.send(
        "MAIL FROM:<a@example.test>", "RCPT TO:<b@example.test>", "DATA", b"x\r\n.\r\n"
    )

    assert got[-1].code == 250
    assert len(running.deliveries) == 1


async def test_data_arriving_slowly_but_steadily_counts_as_activity(
    make_server: MakeServer, connect: Connect, config: Config
) -> None:
    # Gaps of 0.1 s against a 0.5 s timeout: a loaded machine's stall must not
    # look like an idle client.
    running = await make_server(config(idle_timeout=0.5))
    client = await connect(running)
    await client.ehlo()
    await client.send("MAIL FROM:<a@example.test>", "RCPT TO:<b@example.test>", "DATA")

    for n in range(9):  # 0.9 s of data, never 0.5 s without a byte
        await client.write(b"line %d\r\n" % n)
        await asyncio.sleep(0.1)  # the client's pace, not synchronisation

    assert (await client.command(b".\r\n")).code == 250
    assert running.contents == [b"".join(b"line %d\r\n" % n for n in range(9))]
