"""/v1/auth/verify under more concurrent logins than there are bcrypt workers.

Each bcrypt waits at a gate (a ``threading.Event``) before it runs, so the test holds
the checks in flight while it looks at the queue, then lets them through.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from mailstore import passwords
from mailstore.main import create_app
from mailstore.settings import DEV_MAILSTORE_TOKEN, Config
from mailstore.testing import check_password_after

Client = TestClient[web.Request, web.Application]
AUTH = {"Authorization": f"Bearer {DEV_MAILSTORE_TOKEN}"}
# The client and channel every login names; loopback is a trusted network, so only the
# per-account ceiling applies (test_logins.py checks the limits themselves).
LOGIN = {"client": "127.0.0.1", "channel": "web"}
ALICE = "alice@localpost.test"
PASSWORD = "correct horse battery"
QUEUE = 5
TIMEOUT = 10.0


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    event = threading.Event()
    gated = check_password_after(lambda _: event.wait(TIMEOUT))
    monkeypatch.setattr(passwords, "check_password", gated)
    yield event
    event.set()  # no worker thread stays blocked, whatever the test did


@pytest.fixture
async def client(config: Config, pool: Any) -> AsyncIterator[Client]:
    """The API with one bcrypt worker and room for QUEUE checks to wait."""
    one_worker = dataclasses.replace(config, password_workers=1, password_queue=QUEUE)
    app = create_app(one_worker, consume=False, maintenance=False)
    async with TestClient(TestServer(app)) as client:
        response = await client.post(
            "/v1/accounts", json={"address": ALICE, "password": PASSWORD}, headers=AUTH
        )
        assert response.status == 201
        yield client


async def verify(client: Client, password: str) -> int:
    body = {"address": ALICE, "password": password, **LOGIN}
    async with client.post("/v1/auth/verify", json=body, headers=AUTH) as response:
        return response.status


async def held(client: Client, *, running: int, waiting: int) -> None:
    """Until the limiter holds exactly this many checks, read off /metrics."""
    expected = {"running": running, "waiting": waiting}
    async with asyncio.timeout(TIMEOUT):
        while True:
            text = await (await client.get("/metrics")).text()
            states = {
                state: float(line.rpartition(" ")[2])
                for line in text.splitlines()
                for state in expected
                if line.startswith(f'mailstore_password_checks{{state="{state}"}}')
            }
            if states == expected:
                return
            await asyncio.sleep(0.01)


async def test_checks_beyond_the_workers_queue_and_all_answer_correctly(
    client: Client, gate: threading.Event
) -> None:
    # One more check than the queue holds beside the running one would be refused;
    # these fit: one runs, the rest wait instead of failing.
    guesses = [PASSWORD if n % 2 == 0 else f"wrong password {n}" for n in range(QUEUE + 1)]
    tasks = [asyncio.create_task(verify(client, guess)) for guess in guesses]
    await held(client, running=1, waiting=QUEUE)

    gate.set()
    async with asyncio.timeout(TIMEOUT):
        statuses = await asyncio.gather(*tasks)

    assert statuses == [200 if guess == PASSWORD else 401 for guess in guesses]
    await held(client, running=0, waiting=0)


async def test_a_check_beyond_the_queue_is_503_with_retry_after(
    client: Client, gate: threading.Event
) -> None:
    tasks = [asyncio.create_task(verify(client, PASSWORD)) for _ in range(QUEUE + 1)]
    await held(client, running=1, waiting=QUEUE)

    response = await client.post(
        "/v1/auth/verify", json={"address": ALICE, "password": PASSWORD, **LOGIN}, headers=AUTH
    )
    refused = await client.post(
        "/v1/accounts", json={"address": "bob@localpost.test", "password": PASSWORD}, headers=AUTH
    )

    assert response.status == 503
    assert int(response.headers["Retry-After"]) >= 1
    # Hashing a new account's password waits in the same queue, so it is refused too.
    assert refused.status == 503
    text = await (await client.get("/metrics")).text()
    assert "mailstore_password_checks_refused_total 2.0" in text
    gate.set()
    async with asyncio.timeout(TIMEOUT):
        assert await asyncio.gather(*tasks) == [200] * (QUEUE + 1)
