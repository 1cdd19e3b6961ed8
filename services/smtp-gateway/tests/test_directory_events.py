"""The mail store's ``directory`` events on a real broker: each makes the gateway
forget its cached RCPT answers (smtp_gateway/directory_events.py)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING

import aio_pika
import pytest
from aiohttp.test_utils import TestClient, TestServer

from smtp_gateway.keys import DIRECTORY, DIRECTORY_EVENTS
from smtp_gateway.main import create_app
from smtp_gateway.settings import Config
from tests.integration.private_rabbitmq import PrivateRabbitMQ, started_node

if TYPE_CHECKING:
    from conftest import Broker, FakeMailstore, Gateway

ALICE = "alice@localpost.test"


async def listening(gateway: Gateway) -> None:
    async with asyncio.timeout(10):
        while not gateway.app[DIRECTORY_EVENTS].listening:  # noqa: ASYNC110
            await asyncio.sleep(0.02)


async def announce(gateway: Gateway, broker: Broker, *bodies: bytes) -> None:
    """Publish each body on the directory exchange; return once the gateway heard them."""
    exchange = await broker.channel.get_exchange(broker.names.directory_exchange)
    heard = gateway.app[DIRECTORY_EVENTS].heard
    for body in bodies:
        await exchange.publish(aio_pika.Message(body), routing_key="")
    async with asyncio.timeout(10):
        while gateway.app[DIRECTORY_EVENTS].heard < heard + len(bodies):  # noqa: ASYNC110
            await asyncio.sleep(0.02)


@pytest.mark.parametrize(
    "bodies",
    [
        [json.dumps({"event": "directory", "reason": "x"}).encode()],
        # Forgetting is always safe; a hostile or future body must not stop the listener.
        [b"\xff not json", b"[1, 2]"],
    ],
    ids=["event", "not-an-event"],
)
async def test_a_directory_message_drops_the_cached_answers(
    gateway: Gateway, broker: Broker, mailstore: FakeMailstore, bodies: list[bytes]
) -> None:
    await listening(gateway)
    directory = gateway.app[DIRECTORY]
    assert await directory.recipient_exists(ALICE) is True
    mailstore.disabled.add(ALICE)
    assert await directory.recipient_exists(ALICE) is True  # cached

    await announce(gateway, broker, *bodies)

    assert await directory.recipient_exists(ALICE) is False
    metrics = await (await gateway.http.get("/metrics")).text()
    assert f"localpost_gateway_directory_events_total {len(bodies)}.0" in metrics


@pytest.fixture
async def own_broker() -> AsyncIterator[PrivateRabbitMQ]:
    """A private RabbitMQ node, to stop and start without touching the shared one."""
    async with started_node() as broker:
        yield broker


async def until(check: Callable[[], bool]) -> None:
    async with asyncio.timeout(60):
        while not check():  # noqa: ASYNC110
            await asyncio.sleep(0.05)


@pytest.mark.slow
async def test_answers_cached_while_the_broker_was_away_are_dropped_when_it_is_back(
    config: Config, mailstore: FakeMailstore, own_broker: PrivateRabbitMQ
) -> None:
    # Events published while the broker was away are lost: the gateway cannot know
    # what changed meanwhile, so it forgets everything once it listens again.
    config = dataclasses.replace(config, amqp_url=own_broker.url, broker_reconnect_interval=0.5)
    app = create_app(config)
    async with TestClient(TestServer(app, host="127.0.0.1", port=0)):
        events, directory = app[DIRECTORY_EVENTS], app[DIRECTORY]
        await until(lambda: events.listening)
        await own_broker.stop()
        await until(lambda: not events.listening)
        assert await directory.recipient_exists(ALICE) is True
        mailstore.disabled.add(ALICE)

        await own_broker.start()
        await until(lambda: events.listening)

        assert await directory.recipient_exists(ALICE) is False
