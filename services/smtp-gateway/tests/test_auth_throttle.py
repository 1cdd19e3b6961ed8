"""SMTP AUTH under the mail store's login throttle, over real sockets: the gateway in this
event loop, the real mail store (its app on a database of this run's own) behind it.

Clients are sockets bound to 127.0.0.N. The gateway treats loopback as trusted (plaintext
AUTH, no per-address throttle of its own), so what limits them here is the mail store,
which is told to hold loopback to its limits (LOCALPOST_THROTTLE_TRUSTED=1), lowered so
that a few tries reach them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestServer

from mailstore.main import create_app as create_mailstore
from mailstore.settings import LoginLimits
from mailstore.settings import load_config as load_mailstore_config
from mailstore.testing import scratch_database
from smtp_gateway.settings import DEV_MAILSTORE_TOKEN, Config
from smtplib_common import replies
from smtplib_common.replies import Reply
from smtplib_common.server import ServerConfig

if TYPE_CHECKING:
    from conftest import Gateway, LineClient, StartGateway

    Connect = Callable[..., Awaitable[LineClient]]

SERVER_URL = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
ALICE = "alice@localpost.test"
PASSWORD = "alice's long password"
WRONG = "not alice's password"
# The library's default: the session ends (421) at its third failure.
SESSION_FAILURES = ServerConfig().max_auth_failures
# 4 failures per account an hour, 2 per (account, client) and 6 per client in 15 minutes.
LIMITS = LoginLimits(per_client=(6, 900), per_account_client=(2, 900), per_account=(4, 3600))


@pytest.fixture(scope="module")
def database_url() -> Iterator[str]:
    with scratch_database(SERVER_URL, prefix="gateway_auth_test") as url:
        yield url


@pytest.fixture
async def mailstore_url(database_url: str) -> AsyncIterator[str]:
    """The real mail store, ALICE registered, no failures counted yet."""
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    try:
        await pool.execute("TRUNCATE accounts, throttle_events, login_clients CASCADE")
    finally:
        await pool.close()
    environ = {
        "LOCALPOST_DEV": "1",
        "DATABASE_URL": database_url,
        "LOCALPOST_THROTTLE_TRUSTED": "1",
    }
    config = dataclasses.replace(
        load_mailstore_config(environ), bcrypt_rounds=4, login_limits=LIMITS
    )
    server = TestServer(create_mailstore(config, consume=False, maintenance=False))
    await server.start_server()
    url = str(server.make_url("")).rstrip("/")
    try:
        await call_mailstore(url, "/v1/accounts", {"address": ALICE, "password": PASSWORD}, 201)
        yield url
    finally:
        await server.close()


async def call_mailstore(url: str, path: str, body: dict[str, Any], expected: int) -> None:
    headers = {"Authorization": f"Bearer {DEV_MAILSTORE_TOKEN}"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(url + path, json=body, headers=headers) as response,
    ):
        assert response.status == expected, await response.text()


@pytest.fixture
async def gateway(
    start_gateway: StartGateway, config_for: Callable[[str], Config], mailstore_url: str
) -> Gateway:
    return await start_gateway(config_for(mailstore_url))


@pytest.fixture
def auth_from(gateway: Gateway, connect: Connect) -> Callable[..., Awaitable[list[Reply]]]:
    """``await auth_from(n, *passwords)``: a new submission session from 127.0.0.``n``,
    one AUTH as ALICE per password; every reply, with the 421 that follows the session's
    last allowed failure."""

    async def session(n: int, *passwords: str) -> list[Reply]:
        client = await connect(gateway.submission_port, f"127.0.0.{n}")
        await client.ehlo()
        got = [await client.auth_plain(ALICE, password) for password in passwords]
        if sum(reply.code != 235 for reply in got) == SESSION_FAILURES:
            got.append(await client.read_reply())
        return got

    return session


AuthFrom = Callable[..., Awaitable[list[Reply]]]


async def fill_the_account_ceiling(auth_from: AuthFrom) -> None:
    """One wrong password each from four addresses at once: the account's four failures."""
    results = await asyncio.gather(*(auth_from(n, WRONG) for n in range(2, 6)))
    assert results == [[replies.AUTH_FAILED]] * 4


async def test_wrong_passwords_from_several_connections_fill_the_account_limit(
    gateway: Gateway, auth_from: AuthFrom
) -> None:
    await fill_the_account_ceiling(auth_from)

    # Right or wrong, a new address is now refused before any check: 454, never 535.
    assert await auth_from(6, PASSWORD) == [replies.LOGIN_THROTTLED]
    assert await auth_from(7, WRONG) == [replies.LOGIN_THROTTLED]
    text = await (await gateway.http.get("/metrics")).text()
    assert 'reason="auth_throttled"} 2.0' in text


async def test_parallel_sessions_cannot_pass_the_account_limit(auth_from: AuthFrom) -> None:
    results = await asyncio.gather(*(auth_from(n, WRONG) for n in range(2, 12)))

    answers = sorted(reply.code for (reply,) in results)
    assert answers == [454] * 6 + [535] * 4


async def test_the_owners_mail_program_still_logs_in_after_failures_elsewhere(
    auth_from: AuthFrom,
) -> None:
    # The owner's mail program logged in from 127.0.0.20 before the attack.
    assert await auth_from(20, PASSWORD) == [replies.AUTH_SUCCEEDED]
    await fill_the_account_ceiling(auth_from)

    assert await auth_from(20, PASSWORD) == [replies.AUTH_SUCCEEDED]
    assert await auth_from(21, PASSWORD) == [replies.LOGIN_THROTTLED]


async def test_one_address_guessing_one_account_gets_454_then_421(auth_from: AuthFrom) -> None:
    # Two failures per (account, client): the third AUTH is refused unchecked, and is
    # the session's third failure.
    got = await auth_from(30, WRONG, WRONG, PASSWORD)

    assert got == [
        replies.AUTH_FAILED,
        replies.AUTH_FAILED,
        replies.LOGIN_THROTTLED,
        replies.TOO_MANY_AUTH_FAILURES,
    ]
    # Another address is not affected.
    assert await auth_from(31, PASSWORD) == [replies.AUTH_SUCCEEDED]


async def test_failed_web_logins_count_for_smtp_auth(
    auth_from: AuthFrom, mailstore_url: str
) -> None:
    body = {"address": ALICE, "password": WRONG, "client": "127.0.0.40", "channel": "web"}
    for _ in range(2):
        await call_mailstore(mailstore_url, "/v1/auth/verify", body, 401)

    assert await auth_from(40, PASSWORD) == [replies.LOGIN_THROTTLED]


async def test_correct_logins_from_one_address_never_count(auth_from: AuthFrom) -> None:
    for _ in range(8):  # more than any limit above
        assert await auth_from(50, PASSWORD) == [replies.AUTH_SUCCEEDED]

    # The address's failures still count from the first: two, then the limit.
    assert await auth_from(50, WRONG, WRONG, PASSWORD) == [
        replies.AUTH_FAILED,
        replies.AUTH_FAILED,
        replies.LOGIN_THROTTLED,
        replies.TOO_MANY_AUTH_FAILURES,
    ]
