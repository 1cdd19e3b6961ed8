"""A 250 only after the broker's confirm: every other outcome is 451 4.3.0 (RFC 5321 §6.1).

The broker faults go through a TCP proxy in front of the real broker, so the real
client library meets a real frozen or lost connection.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING

import aio_pika
import pytest

from smtp_gateway.settings import Config
from smtplib_common import replies

if TYPE_CHECKING:
    from conftest import Broker, Gateway, LineClient, StartGateway, StartProxied, TcpProxy

    Connect = Callable[[int], Awaitable[LineClient]]

AMQP_URL = os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
BOB = "bob@localpost.test"


@pytest.fixture
async def proxied(start_proxied: StartProxied) -> Gateway:
    return await start_proxied(publish_timeout=1.0)


async def send(connect: Connect, gateway: Gateway) -> LineClient:
    """A client past MAIL and RCPT, ready for DATA."""
    client = await connect(gateway.delivery_port)
    await client.ehlo()
    assert await client.command("MAIL FROM:<sender@example.org>") == replies.SENDER_OK
    assert await client.command(f"RCPT TO:<{BOB}>") == replies.RECIPIENT_OK
    return client


async def test_unroutable_message_is_451_not_250(
    gateway: Gateway, broker: Broker, connect: Connect
) -> None:
    client = await send(connect, gateway)
    await broker.unbind_incoming()

    # mandatory=True: the broker returns the message instead of dropping it.
    assert await client.data(client.message()) == replies.LOCAL_ERROR
    assert await broker.drain() == []
    metrics = await (await gateway.http.get("/metrics")).text()
    assert 'reason="message_returned"' in metrics


async def test_no_confirm_within_the_timeout_is_451(
    proxied: Gateway, broker_proxy: TcpProxy, connect: Connect
) -> None:
    client = await send(connect, proxied)
    broker_proxy.freeze()

    assert await client.data(client.message()) == replies.LOCAL_ERROR

    broker_proxy.restore()
    assert 'reason="publish_timeout"' in await (await proxied.http.get("/metrics")).text()


async def test_lost_broker_connection_is_451_then_reconnects_by_itself(
    proxied: Gateway, broker_proxy: TcpProxy, broker: Broker, connect: Connect
) -> None:
    client = await send(connect, proxied)
    broker_proxy.cut()

    assert await client.data(client.message()) == replies.LOCAL_ERROR
    ready = await proxied.http.get("/readyz")
    assert ready.status == 503
    assert (await ready.json())["reason"] == "no broker connection"
    assert 'reason="broker_unavailable"' in await (await proxied.http.get("/metrics")).text()

    broker_proxy.restore()
    await proxied.wait_connected()
    answers = await client.transaction("sender@example.org", [BOB], client.message())
    message_id = client.queued_id(answers[-1])
    assert [m.message_id for m in await broker.drain()] == [message_id]


async def test_gateway_starts_without_a_broker_and_refuses_mail_with_451(
    broker_proxy: TcpProxy, start_gateway: StartGateway, config: Config, connect: Connect
) -> None:
    broker_proxy.cut()
    url = f"amqp://guest:guest@127.0.0.1:{broker_proxy.port}/"
    gateway = await start_gateway(dataclasses.replace(config, amqp_url=url))
    client = await send(connect, gateway)

    assert await client.data(client.message()) == replies.LOCAL_ERROR
    ready = await gateway.http.get("/readyz")
    assert ready.status == 503

    broker_proxy.restore()
    await gateway.wait_connected()
    assert (await gateway.http.get("/readyz")).status == 200


async def rabbitmqctl(*args: str) -> None:
    process = await asyncio.create_subprocess_exec(
        "rabbitmqctl", *args, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    _, stderr = await process.communicate()
    if process.returncode != 0:
        pytest.skip(f"rabbitmqctl {args[0]} failed: {stderr.decode(errors='replace')[:200]}")


@pytest.fixture
async def full_queue(gateway: Gateway, broker: Broker) -> AsyncIterator[None]:
    """The incoming queue at a length limit with overflow=reject-publish, set by a
    policy: the broker nacks further messages. Needs rabbitmqctl for the local node."""
    if shutil.which("rabbitmqctl") is None:
        pytest.skip("rabbitmqctl is not installed")
    # rabbitmqctl talks to the local node; a policy there would not reach another broker.
    if aio_pika.connection.make_url(AMQP_URL).host not in ("127.0.0.1", "localhost", "::1"):
        pytest.skip("AMQP_URL is not a local broker")
    policy = f"{broker.names.incoming_queue}-full"
    pattern = "^" + broker.names.incoming_queue.replace(".", "\\.") + "$"
    await rabbitmqctl(
        "set_policy",
        "--apply-to",
        "queues",
        policy,
        pattern,
        '{"max-length": 1, "overflow": "reject-publish"}',
    )
    try:
        exchange = await broker.channel.get_exchange(broker.names.mail_exchange)
        # Quorum queues enforce the limit softly: one message over it is still taken.
        for _ in range(2):
            await exchange.publish(aio_pika.Message(b"filler"), "incoming")
        yield
    finally:
        await rabbitmqctl("clear_policy", policy)


@pytest.mark.usefixtures("full_queue")
async def test_nacked_message_is_451_not_250(gateway: Gateway, connect: Connect) -> None:
    client = await send(connect, gateway)

    assert await client.data(client.message()) == replies.LOCAL_ERROR
    assert 'reason="message_nacked"' in await (await gateway.http.get("/metrics")).text()
