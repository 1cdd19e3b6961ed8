"""The per-source limits as the gateway configures them, over real sockets.

One address (here 127.0.0.1, which is in the trusted networks: they are held to
the limits too) against both listeners together: connections at once, new
connections per minute, commands before MAIL, the minimum data rate; and BDAT's
line endings. Each refusal is 421 4.7.0, counted in /metrics by limit, and logged
once per source and period.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING

import pytest

from smtp_gateway.settings import DEV_WEB_SUBMISSION_SECRET, Config, load_config
from smtplib_common import replies
from smtplib_common.replies import Reply

if TYPE_CHECKING:
    from conftest import Broker, FakeMailstore, Gateway, LineClient, StartGateway

    Connect = Callable[[int], Awaitable[LineClient]]

ALICE = "alice@localpost.test"
BOB = "bob@localpost.test"
TIMEOUT = 10.0
WEB_PRINCIPAL = "localpost-web"


@pytest.fixture
def limited(
    prefix: str, mailstore: FakeMailstore, gateway_env: dict[str, str], start_gateway: StartGateway
) -> Callable[..., Awaitable[Gateway]]:
    """``await limited(GATEWAY_X="3")``: a gateway with these variables on top."""

    async def start(**variables: str) -> Gateway:
        config: Config = dataclasses.replace(
            load_config({**gateway_env, **variables}),
            smtp_port=0,
            submission_port=0,
            submissions_port=0,
        )
        gateway = await start_gateway(config)
        await gateway.wait_connected()
        return gateway

    return start


async def ready_for_data(gateway: Gateway, connect: Connect) -> LineClient:
    client = await connect(gateway.delivery_port)
    await client.ehlo()
    assert (await client.command(f"MAIL FROM:<{ALICE}>")).code == 250
    assert (await client.command(f"RCPT TO:<{BOB}>")).code == 250
    return client


async def refused_at_connect(port: int) -> bytes:
    """Everything the gateway sends a connection it refuses, up to its close."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        async with asyncio.timeout(TIMEOUT):
            return await reader.read()
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


def greeting(reply: Reply) -> bytes:
    # The refusal is the greeting: no enhanced code there (RFC 2034 §3).
    return reply.encode(enhanced=False)


async def refusals(gateway: Gateway, limit: str) -> float:
    text = await (await gateway.http.get("/metrics")).text()
    prefix = f'localpost_gateway_smtp_limit_refusals_total{{limit="{limit}"}} '
    (line,) = [line for line in text.splitlines() if line.startswith(prefix)]
    return float(line.removeprefix(prefix))


@contextlib.contextmanager
def peer_log(caplog: pytest.LogCaptureFixture) -> Iterator[list[str]]:
    lines: list[str] = []
    with caplog.at_level(logging.WARNING, logger="smtplib_common.server.peers"):
        yield lines
    lines.extend(r.getMessage() for r in caplog.records if r.name == "smtplib_common.server.peers")


async def test_the_21st_connection_across_both_ports_is_421_and_one_closing_frees_a_slot(
    gateway: Gateway, connect: Connect, caplog: pytest.LogCaptureFixture
) -> None:
    held = [await connect(gateway.delivery_port) for _ in range(10)]
    held += [await connect(gateway.submission_port) for _ in range(10)]

    with peer_log(caplog) as logged:
        for port in (gateway.delivery_port, gateway.submission_port, gateway.delivery_port):
            assert await refused_at_connect(port) == greeting(
                replies.TOO_MANY_CONNECTIONS_FROM_PEER
            )
    assert (await held[0].command("QUIT")).code == 221
    await held[0].close()
    again = await _connect_when_free(gateway.submission_port, connect)

    assert (await again.ehlo()).code == 250
    assert await refusals(gateway, "connections_per_source") == 3
    # Three refusals, one line: a flood from one address does not flood the log.
    assert len(logged) == 1
    assert "127.0.0.1 refused by the connections_per_source limit" in logged[0]


async def _connect_when_free(port: int, connect: Connect) -> LineClient:
    """The slot is freed when the gateway has seen the close; until then a
    connection is refused, so try again (bounded)."""
    async with asyncio.timeout(TIMEOUT):
        while True:
            try:
                return await connect(port)
            except AssertionError:  # LineClient.open: the greeting was the 421
                await asyncio.sleep(0.05)


async def test_new_connections_past_the_rate_are_421_at_connect(
    limited: Callable[..., Awaitable[Gateway]], connect: Connect
) -> None:
    gateway = await limited(GATEWAY_CONNECTION_RATE_PER_SOURCE="3")
    for port in (gateway.delivery_port, gateway.submission_port, gateway.delivery_port):
        client = await connect(port)
        assert (await client.command("QUIT")).code == 221
        await client.close()

    refusal = await refused_at_connect(gateway.submission_port)

    assert refusal == greeting(replies.CONNECTION_RATE_EXCEEDED)
    assert await refusals(gateway, "connection_rate") == 1


async def test_a_rset_noop_loop_before_mail_is_421_and_closed(
    limited: Callable[..., Awaitable[Gateway]], connect: Connect
) -> None:
    gateway = await limited(GATEWAY_MAX_COMMANDS_BEFORE_MAIL="5")
    client = await connect(gateway.delivery_port)
    await client.ehlo()
    for command in ("RSET", "NOOP", "HELP", "RSET"):
        assert (await client.command(command)).code in (214, 250)

    assert await client.command("NOOP") == replies.TOO_MANY_COMMANDS_BEFORE_MAIL
    assert await client.reader.read() == b""
    assert await refusals(gateway, "commands_before_mail") == 1


async def test_the_web_principal_logged_in_is_not_held_to_commands_before_mail(
    limited: Callable[..., Awaitable[Gateway]], connect: Connect, broker: Broker
) -> None:
    """The web's pooled sessions send RSET between messages; after AUTH only the
    junk-command limit (reset by each accepted message) applies to them."""
    gateway = await limited(GATEWAY_MAX_COMMANDS_BEFORE_MAIL="3")
    client = await connect(gateway.submission_port)
    await client.ehlo()
    assert (await client.auth_plain(WEB_PRINCIPAL, DEV_WEB_SUBMISSION_SECRET)).code == 235
    for _ in range(10):
        assert await client.command("RSET") == replies.RESET_OK

    answers = await client.transaction(ALICE, [BOB], client.message(), mail_params=f" AUTH={ALICE}")

    client.queued_id(answers[-1])
    assert [m.submitted_by for m in await broker.drain_mail()] == [ALICE]


async def test_trickled_data_is_421_after_the_grace_and_nothing_is_queued(
    limited: Callable[..., Awaitable[Gateway]], connect: Connect, broker: Broker
) -> None:
    gateway = await limited(GATEWAY_DATA_RATE_GRACE="1", GATEWAY_MIN_DATA_RATE="50")
    client = await ready_for_data(gateway, connect)
    assert (await client.command("DATA")).code == 354

    got = b""
    async with asyncio.timeout(TIMEOUT):
        while not client.reader.at_eof():
            with contextlib.suppress(ConnectionError):
                client.writer.write(b"x")  # 5 octets/s; the gateway asks for 50
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.2):
                    got += await client.reader.read(4096)

    assert got == replies.DATA_TOO_SLOW.encode()
    assert await refusals(gateway, "min_data_rate") == 1
    assert await broker.drain_mail() == []


async def test_a_slow_but_steady_client_is_not_cut_off(
    limited: Callable[..., Awaitable[Gateway]], connect: Connect, broker: Broker
) -> None:
    """Well above the rate, for longer than the grace: the message goes through."""
    gateway = await limited(GATEWAY_DATA_RATE_GRACE="1", GATEWAY_MIN_DATA_RATE="50")
    client = await ready_for_data(gateway, connect)
    assert (await client.command("DATA")).code == 354
    client.writer.write(b"Subject: slow\r\n\r\n")
    for _ in range(15):  # ~100 octets every 0.1 s: 1,000 octets/s, 20 times the rate
        client.writer.write(b"y" * 98 + b"\r\n")
        await asyncio.sleep(0.1)

    reply = await client.command(b".\r\n")

    client.queued_id(reply)
    assert await refusals(gateway, "min_data_rate") == 0
    (queued,) = await broker.drain_mail()
    assert queued.body.endswith(b"y" * 98 + b"\r\n")


@pytest.mark.parametrize(
    "chunk", [b"Subject: x\r\n\r\nbare\nlf\r\n", b"Subject: x\r\n\r\nbare\rcr\r\n"]
)
async def test_bdat_with_a_bare_line_ending_is_554_as_data_and_not_queued(
    gateway: Gateway, connect: Connect, broker: Broker, chunk: bytes
) -> None:
    client = await ready_for_data(gateway, connect)

    reply = await client.command(b"BDAT %d LAST\r\n" % len(chunk) + chunk)

    assert reply == replies.BARE_LINE_ENDING_IN_DATA
    assert (await client.data(b"Subject: x\r\n\r\nbare\nlf\r\n")) == replies.NEED_MAIL
    assert await broker.drain_mail() == []


async def test_every_limit_has_a_series_from_the_start(gateway: Gateway) -> None:
    for limit in (
        "connections_per_source",
        "connection_rate",
        "commands_before_mail",
        "min_data_rate",
    ):
        assert await refusals(gateway, limit) == 0
