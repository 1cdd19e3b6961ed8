"""The POP3 maildrop lock (views.pop3, RFC 1939 §8) on real PostgreSQL, over HTTP."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from mailstore.settings import DEV_MAILSTORE_TOKEN

Client = TestClient[web.Request, web.Application]
AUTH = {"Authorization": f"Bearer {DEV_MAILSTORE_TOKEN}"}
ALICE = "alice@localpost.test"
LOCK = f"/v1/accounts/{ALICE}/pop3/lock"


@pytest.fixture
async def alice(client: Client) -> None:
    body = {"address": ALICE, "name": "", "password": "correct horse battery"}
    response = await client.post("/v1/accounts", json=body, headers=AUTH)
    assert response.status == 201


async def take(client: Client, holder: str, seconds: int = 60) -> tuple[int, Any]:
    response = await client.post(LOCK, json={"holder": holder, "seconds": seconds}, headers=AUTH)
    return response.status, await response.json()


async def release(client: Client, holder: str) -> int:
    response = await client.delete(LOCK, params={"holder": holder}, headers=AUTH)
    return response.status


async def test_a_second_holder_is_refused_inuse_until_the_first_releases(
    client: Client, alice: None
) -> None:
    assert (await take(client, "one"))[0] == 200
    status, body = await take(client, "two")
    assert (status, body["code"]) == (409, "inuse")
    # The holder renews its own lease.
    assert (await take(client, "one"))[0] == 200
    # Releasing someone else's lock changes nothing.
    assert await release(client, "two") == 204
    assert (await take(client, "two"))[0] == 409
    assert await release(client, "one") == 204
    assert (await take(client, "two"))[0] == 200


async def test_an_expired_lease_is_taken_over(client: Client, alice: None, pool: Any) -> None:
    assert (await take(client, "dead-gateway", seconds=1))[0] == 200
    # Expire it without waiting: the lease is a row with an expiry.
    await pool.execute("UPDATE pop3_locks SET expires_at = now() - interval '1 second'")
    assert (await take(client, "next"))[0] == 200
    assert (await take(client, "dead-gateway"))[0] == 409


async def test_racing_holders_get_the_lock_once(client: Client, alice: None) -> None:
    results = await asyncio.gather(*(take(client, f"h{n}") for n in range(8)))
    assert sorted(status for status, _ in results) == [200] + [409] * 7


@pytest.mark.parametrize(
    "body",
    [
        {"holder": "", "seconds": 60},
        {"holder": "x" * 101, "seconds": 60},
        {"holder": "a\u00e9", "seconds": 60},
        {"holder": "a", "seconds": 0},
        {"holder": "a", "seconds": 3601},
        {"holder": "a", "seconds": True},
        {"holder": "a"},
        {"seconds": 5},
    ],
)
async def test_invalid_lock_requests_are_422(client: Client, alice: None, body: Any) -> None:
    response = await client.post(LOCK, json=body, headers=AUTH)
    assert response.status == 422


async def test_the_lock_of_a_missing_account_is_404(client: Client) -> None:
    assert (await take(client, "one"))[0] == 404
    assert await release(client, "one") == 404
