"""Faults during a stream of mail, counted like a Jepsen run (harness.py).

Each scenario starts its own stack (and, where the broker is the victim, its own
private RabbitMQ node), streams messages with unique tokens while a nemesis
strikes, heals, lets the queue drain, and reads the store. Lost, unexpected and
duplicated must all be 0; docs/reliability.md records the figures.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio

from tests.integration.harness import (
    Attempts,
    Nemesis,
    Verdict,
    judge,
    new_run_id,
    send_stream,
    wait_for_attempts,
)
from tests.integration.harness import stored_tokens as read_tokens
from tests.integration.mailapi import MailstoreAPI
from tests.integration.private_rabbitmq import PrivateRabbitMQ, available
from tests.integration.stack import LocalStack

pytestmark = [pytest.mark.faults, pytest.mark.slow, pytest.mark.asyncio(loop_scope="function")]

# How many messages each scenario streams; `make test-faults` raises it.
MESSAGES = int(os.environ.get("LOCALPOST_FAULT_MESSAGES", "2000"))
SENDERS = 10
PASSWORD = "fault injection password"


@pytest.fixture(autouse=True)
def _local_only() -> None:
    if "LOCALPOST_WEB_URL" in os.environ:
        pytest.skip("fault scenarios kill processes: they need the stack the tests start")


async def run_scenario(stack: LocalStack, nemesis: Nemesis, name: str) -> Verdict:
    assert stack.endpoints is not None
    run = new_run_id()
    recipient = f"faults.{run}@{stack.endpoints.domain}"
    async with aiohttp.ClientSession() as http:
        api = MailstoreAPI(http, stack.endpoints.mailstore_url, stack.endpoints.mailstore_token)
        await api.create_account(recipient, PASSWORD)
        attempts = Attempts()
        stream = asyncio.create_task(
            send_stream(
                stack.endpoints.smtp,
                recipient,
                total=MESSAGES,
                senders=SENDERS,
                run=run,
                attempts=attempts,
            )
        )
        await nemesis(attempts)
        await stream
        # Everything is healed: the whole stack must be ready again.
        await stack.wait_ready()
        tokens = await read_tokens(
            api, recipient, expect_at_least=len(attempts.acknowledged), settle=3.0, timeout=120
        )
    verdict = judge(attempts, tokens)
    print(f"\nFAULTS {name}: {json.dumps(verdict.as_row())}")
    return verdict


def assert_safe(verdict: Verdict) -> None:
    assert (verdict.lost, verdict.unexpected, verdict.duplicated) == (0, 0, 0), verdict
    assert verdict.attempted == MESSAGES, verdict
    assert verdict.acknowledged > 0, verdict


@pytest_asyncio.fixture
async def local_stack(database_url: str, amqp_url: str) -> AsyncIterator[LocalStack]:
    stack = LocalStack(admin_database_url=database_url, amqp_url=amqp_url)
    try:
        await stack.start()
        yield stack
    finally:
        await stack.stop()


@pytest_asyncio.fixture
async def private_broker() -> AsyncIterator[PrivateRabbitMQ]:
    reason = available()
    if reason is not None:
        pytest.skip(reason)
    broker = PrivateRabbitMQ()
    try:
        await broker.start()
        yield broker
    finally:
        await broker.remove()


async def test_kill_9_mailstore_during_a_stream_loses_and_duplicates_nothing(
    local_stack: LocalStack,
) -> None:
    mailstore = local_stack.services["mailstore"]

    async def nemesis(attempts: Attempts) -> None:
        await wait_for_attempts(attempts, MESSAGES // 5)
        await mailstore.kill9()
        assert len(attempts.attempted) < MESSAGES, "the stream ended before the fault"
        await asyncio.sleep(3.0)
        await local_stack.restart("mailstore")

    assert_safe(await run_scenario(local_stack, nemesis, "kill -9 mailstore"))


async def test_broker_stopped_for_10s_during_a_stream_loses_and_duplicates_nothing(
    database_url: str, private_broker: PrivateRabbitMQ
) -> None:
    stack = LocalStack(admin_database_url=database_url, amqp_url=private_broker.url)
    try:
        await stack.start()

        async def nemesis(attempts: Attempts) -> None:
            await wait_for_attempts(attempts, MESSAGES // 10)
            await private_broker.stop()
            assert len(attempts.attempted) < MESSAGES, "the stream ended before the fault"
            await asyncio.sleep(10.0)
            await private_broker.start()

        verdict = await run_scenario(stack, nemesis, "RabbitMQ stopped 10 s")
        assert_safe(verdict)
        # While the broker was down the gateway must have refused (451), not lied.
        assert verdict.refused + verdict.unknown > 0, verdict
    finally:
        await stack.stop()
