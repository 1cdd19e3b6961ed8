"""SMTPPool: lazy sessions, reuse, a size limit, and replacing broken sessions."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable

import pytest

from smtplib_common.client import (
    SMTPClient,
    SMTPConnectError,
    SMTPDataRefused,
    SMTPPool,
)


@pytest.fixture
async def pool_for() -> AsyncIterator[Callable[..., SMTPPool]]:
    pools: list[SMTPPool] = []

    def make(port: int, *, max_size: int = 2, max_idle: float = 60.0) -> SMTPPool:
        pool = SMTPPool(
            lambda: SMTPClient("127.0.0.1", port, timeout=5, connect_timeout=5, data_timeout=5),
            max_size=max_size,
            max_idle=max_idle,
        )
        pools.append(pool)
        return pool

    yield make
    for pool in pools:
        await pool.close()


async def test_sessions_open_lazily_and_are_reused(fake_smtp, pool_for, scripted) -> None:
    script = scripted()
    server = await fake_smtp(script)
    pool = pool_for(server.port)
    await asyncio.sleep(0.05)
    assert script.sessions == 0
    for n in range(3):
        await pool.send_message("a@x.test", "b@y.test", f"no. {n}", "body\n")
    assert script.sessions == 1
    assert pool.size == 1
    assert len(script.messages) == 3


async def test_concurrent_senders_share_at_most_max_size_sessions(
    fake_smtp, pool_for, scripted
) -> None:
    script = scripted(data_delay=0.05)
    active = peak = 0

    async def counting(peer):
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        try:
            await script(peer)
        finally:
            active -= 1

    server = await fake_smtp(counting)
    pool = pool_for(server.port, max_size=3)
    results = await asyncio.gather(
        *(pool.send_message("a@x.test", f"r{n}@y.test", "s", f"b{n}\n") for n in range(12))
    )
    assert all(r.accepted for r in results)
    assert peak == 3
    assert script.sessions == 3
    assert sorted(m.rcpts[0] for m in script.messages) == sorted(f"r{n}@y.test" for n in range(12))


async def test_a_broken_session_is_discarded_and_replaced(fake_smtp, pool_for, scripted) -> None:
    # 421 after the content: the server is closing, so the client drops the session.
    script = scripted(replies={".": ["421 4.3.2 shutting down", "250 2.0.0 queued"]})
    server = await fake_smtp(script)
    pool = pool_for(server.port)
    with pytest.raises(SMTPDataRefused) as caught:
        await pool.send_message("a@x.test", "b@y.test", "s", "b\n")
    assert caught.value.code == 421
    assert pool.size == 0
    result = await pool.send_message("a@x.test", "b@y.test", "s", "b\n")
    assert result.data_response.code == 250
    assert script.sessions == 2


async def test_a_session_the_server_timed_out_while_idle_is_not_reused(fake_smtp, pool_for) -> None:
    sessions = []

    async def script(peer):
        sessions.append(peer)
        await peer.handshake("PIPELINING")
        for _ in range(3):
            await peer.readline()
        await peer.reply("250 OK", "250 OK", "354 go")
        await peer.read_data()
        await peer.reply("250 OK")
        if len(sessions) == 1:
            # RFC 5321 §3.8: an idle timeout is a 421 nobody asked for, then EOF.
            await peer.reply("421 4.4.2 idle timeout")
            return
        await peer.expect_quit()

    server = await fake_smtp(script)
    pool = pool_for(server.port)
    await pool.send_message("a@x.test", "b@y.test", "one", "b\n")
    await asyncio.sleep(0.1)  # the 421 and the EOF arrive while the session is idle
    result = await pool.send_message("a@x.test", "b@y.test", "two", "b\n")
    assert result.data_response.code == 250
    assert len(sessions) == 2
    await pool.close()
    await server.finished()


async def test_sessions_idle_longer_than_max_idle_are_retired_with_quit(
    fake_smtp, pool_for, scripted
) -> None:
    script = scripted()
    server = await fake_smtp(script)
    pool = pool_for(server.port, max_idle=0)
    await pool.send_message("a@x.test", "b@y.test", "one", "b\n")
    await pool.send_message("a@x.test", "b@y.test", "two", "b\n")
    assert script.sessions == 2
    first_quit = script.commands.index("QUIT")
    assert script.commands[first_quit + 1].startswith("EHLO")  # QUIT came before the new session


async def test_connection_block_gives_one_client_for_several_commands(
    fake_smtp, pool_for, scripted
) -> None:
    script = scripted()
    server = await fake_smtp(script)
    pool = pool_for(server.port)
    async with pool.connection() as client:
        assert (await client.noop()).code == 250
        await client.send_raw("a@x.test", "b@y.test", b"x\r\n")
    handed_out = []

    async def fail_while_holding_a_client() -> None:
        async with pool.connection() as again:
            handed_out.append(again)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await fail_while_holding_a_client()
    assert handed_out == [client]  # reused
    assert pool.size == 1  # an error in the caller's code does not break the session


async def test_close_quits_idle_sessions_and_refuses_further_use(
    fake_smtp, pool_for, scripted
) -> None:
    script = scripted()
    server = await fake_smtp(script)
    pool = pool_for(server.port)
    await pool.send_message("a@x.test", "b@y.test", "s", "b\n")
    await pool.close()
    assert script.commands[-1] == "QUIT"
    assert pool.size == 0
    with pytest.raises(RuntimeError, match="closed"):
        await pool.send_message("a@x.test", "b@y.test", "s", "b\n")


async def test_a_failed_connect_gives_its_slot_back(pool_for) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    pool = pool_for(port, max_size=1)
    for _ in range(3):  # with a leaked slot the second attempt would wait forever
        async with asyncio.timeout(5):
            with pytest.raises(SMTPConnectError):
                await pool.send_message("a@x.test", "b@y.test", "s", "b\n")
