"""Messages that arrive while publishes await their confirms leave together, in the
contract's batch form, and each 250 still comes only after the confirm of its batch."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import pytest

from smtp_gateway.publisher import MAX_IN_FLIGHT, Publisher, _Outgoing
from smtplib_common import replies

if TYPE_CHECKING:
    from conftest import Broker, Gateway, LineClient, StartProxied, TcpProxy

    Connect = Callable[[int], Awaitable[LineClient]]

ALICE = "alice@localpost.test"
BOB = "bob@localpost.test"
CLIENTS = 40


@pytest.fixture
async def proxied(start_proxied: StartProxied) -> Gateway:
    # CLIENTS connections at once from 127.0.0.1: past the per-source default of 20.
    return await start_proxied(
        publish_timeout=5.0,
        max_connections_per_source=CLIENTS,
        connection_rate_per_source=2 * CLIENTS,
    )


async def ready_for_data(connect: Connect, gateway: Gateway, rcpts: list[str]) -> LineClient:
    client = await connect(gateway.delivery_port)
    await client.ehlo()
    assert await client.command("MAIL FROM:<sender@example.org>") == replies.SENDER_OK
    for rcpt in rcpts:
        assert await client.command(f"RCPT TO:<{rcpt}>") == replies.RECIPIENT_OK
    return client


async def test_messages_waiting_for_a_confirm_leave_as_one_batch_each_once(
    proxied: Gateway, broker_proxy: TcpProxy, broker: Broker, connect: Connect
) -> None:
    clients = [
        await ready_for_data(connect, proxied, [BOB] if n % 2 else [ALICE, BOB])
        for n in range(CLIENTS)
    ]
    contents = [client.message(f"batch {n}") for n, client in enumerate(clients)]
    # The first MAX_IN_FLIGHT publishes wait for confirms that cannot come yet; the
    # other messages queue up behind them meanwhile.
    broker_proxy.freeze()
    sending = [
        asyncio.create_task(c.data(content)) for c, content in zip(clients, contents, strict=True)
    ]
    await asyncio.sleep(0.5)
    assert not any(task.done() for task in sending), "a 250 before the broker's confirm"
    broker_proxy.restore()
    answers = await asyncio.gather(*sending)

    ids = [clients[0].queued_id(answer) for answer in answers]
    queued = {mail.message_id: mail for mail in await broker.drain_mail()}
    assert sorted(queued) == sorted(ids), "each accepted message on the queue exactly once"
    batched = [mail for mail in queued.values() if mail.batch]
    assert len(batched) == CLIENTS - MAX_IN_FLIGHT
    for n, message_id in enumerate(ids):
        mail = queued[message_id]
        assert (mail.mail_from, mail.submitted_by) == ("sender@example.org", None)
        assert mail.rcpt_to == ([BOB] if n % 2 else [ALICE, BOB])
        _, body = clients[0].results(mail.body)
        assert body.startswith(b"Received: ")
        assert f" id {message_id}".encode() in mail.body.split(b"\r\n\r\n")[0]
        assert mail.body.endswith(contents[n])
    metrics = await (await proxied.http.get("/metrics")).text()
    assert f"localpost_gateway_publish_batch_messages_sum {CLIENTS}.0" in metrics
    assert f"localpost_gateway_publish_batch_messages_count {MAX_IN_FLIGHT + 1}.0" in metrics


async def test_a_lost_broker_answers_every_message_of_a_batch_451(
    proxied: Gateway, broker_proxy: TcpProxy, broker: Broker, connect: Connect
) -> None:
    clients = [await ready_for_data(connect, proxied, [BOB]) for _ in range(10)]
    broker_proxy.freeze()
    sending = [asyncio.create_task(c.data(c.message())) for c in clients]
    await asyncio.sleep(0.3)
    broker_proxy.cut()

    assert await asyncio.gather(*sending) == [replies.LOCAL_ERROR] * len(clients)
    broker_proxy.restore()
    await proxied.wait_connected()
    # The waiting ones never went out; those in flight may or may not have.
    assert len(await broker.drain_mail()) <= MAX_IN_FLIGHT


async def test_a_message_answered_451_while_waiting_never_goes_out() -> None:
    publisher = Publisher("amqp://unused/", "p", publish_timeout=1.0, reconnect_interval=1.0)
    loop = asyncio.get_running_loop()
    items = [
        _Outgoing(f"{n:026d}", b"x" * 10, "", ["b@x.test"], None, loop.create_future())
        for n in range(4)
    ]
    items[0].abandoned = items[2].abandoned = True
    publisher._waiting.extend(items)

    assert publisher._take_batch() == [items[1], items[3]]
    assert not publisher._waiting
