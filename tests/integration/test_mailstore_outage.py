"""The mail store while its PostgreSQL is stopped: every call is 503 with Retry-After,
never a 500, and the web shows "Mail is unavailable right now"; once PostgreSQL is
back the same calls answer again, without restarting anything.

A private cluster is the victim (private_postgres.py), never the machine's server.
PostgreSQL *starting up* (CannotConnectNowError) is a moment no test can hold open;
services/mailstore/tests/test_middlewares.py checks that mapping on its own.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from tests.integration.mailapi import MailstoreAPI
from tests.integration.private_postgres import PrivatePostgres
from tests.integration.stack import LocalStack
from tests.integration.webform import log_in

pytestmark = [pytest.mark.faults, pytest.mark.asyncio(loop_scope="function")]

PASSWORD = "outage test password"
# Generous: how long the pool may take to reconnect once PostgreSQL is back. A wait
# for recovery, not a measurement.
RECOVERY_DEADLINE = 60.0


@pytest_asyncio.fixture
async def stack(private_database: PrivatePostgres, amqp_url: str) -> AsyncIterator[LocalStack]:
    async with LocalStack(admin_database_url=private_database.url, amqp_url=amqp_url) as stack:
        yield stack


async def calls(stack: LocalStack, address: str) -> dict[str, tuple[int, str | None]]:
    """(status, Retry-After) of one call of each kind: a read, a login, a write."""
    assert stack.endpoints is not None
    base = stack.endpoints.mailstore_url
    headers = {"Authorization": f"Bearer {stack.endpoints.mailstore_token}"}
    verify = {"address": address, "password": PASSWORD, "client": "192.0.2.1", "channel": "api"}
    requests: dict[str, tuple[str, str, dict[str, Any]]] = {
        "directory": ("GET", "/v1/directory?prefix=&limit=1", {}),
        "verify": ("POST", "/v1/auth/verify", {"json": verify}),
        "session": ("POST", "/v1/sessions", {"json": {"address": address}}),
    }
    answers = {}
    async with aiohttp.ClientSession(headers=headers) as http:
        for name, (method, path, kwargs) in requests.items():
            async with http.request(method, base + path, **kwargs) as response:
                answers[name] = (response.status, response.headers.get("Retry-After"))
    return answers


async def signed_in(stack: LocalStack, address: str) -> aiohttp.ClientSession:
    assert stack.endpoints is not None
    http = aiohttp.ClientSession(
        base_url=stack.endpoints.web_url, cookie_jar=aiohttp.CookieJar(unsafe=True)
    )
    await log_in(http, address, PASSWORD)
    return http


async def test_a_stopped_postgres_is_503_with_retry_after_then_calls_answer_again(
    private_database: PrivatePostgres, stack: LocalStack
) -> None:
    assert stack.endpoints is not None
    address = f"u{uuid.uuid4().hex[:12]}@{stack.endpoints.domain}"
    async with aiohttp.ClientSession() as http:
        api = MailstoreAPI(http, stack.endpoints.mailstore_url, stack.endpoints.mailstore_token)
        await api.create_account(address, PASSWORD)
    browser = await signed_in(stack, address)
    try:
        await private_database.stop("fast")
        try:
            during = await calls(stack, address)
            async with browser.get("/mail/inbox") as page:
                page_status, page_text = page.status, await page.text()
        finally:
            await private_database.start()
        after = await recovered(stack, address)
        async with browser.get("/mail/inbox") as page:
            page_after = page.status
    finally:
        await browser.close()

    assert {name: status for name, (status, _) in during.items()} == dict.fromkeys(during, 503)
    assert all(retry is not None and int(retry) > 0 for _, retry in during.values())
    assert (page_status, "Mail is unavailable right now" in page_text) == (503, True)
    assert after == {"directory": 200, "verify": 200, "session": 201}
    assert page_after == 200


async def recovered(stack: LocalStack, address: str) -> dict[str, int]:
    """The statuses once the directory answers again (the pool reconnects on demand)."""
    deadline = time.monotonic() + RECOVERY_DEADLINE
    while True:
        answers = {name: status for name, (status, _) in (await calls(stack, address)).items()}
        if answers["directory"] != 503 or time.monotonic() > deadline:
            return answers
        await asyncio.sleep(0.5)
