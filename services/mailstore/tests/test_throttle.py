from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from mailstore import db
from mailstore.settings import DEV_MAILSTORE_TOKEN

Client = TestClient[web.Request, web.Application]
AUTH = {"Authorization": f"Bearer {DEV_MAILSTORE_TOKEN}"}
KEY = "login:account:alice@localpost.test"


async def hit(client: Client, key: str = KEY, limit: int = 3, window: int = 60) -> Any:
    body = {"key": key, "limit": limit, "window": window}
    response = await client.post("/v1/throttle", json=body, headers=AUTH)
    assert response.status == 200, await response.text()
    return await response.json()


async def age_events(pool: Any, seconds: float, key: str = KEY) -> None:
    """Move the key's events ``seconds`` into the past: time passing, without the wait."""
    await pool.execute(
        "UPDATE throttle_events SET at = at - $2 * interval '1 second' WHERE key = $1", key, seconds
    )


async def test_calls_up_to_the_limit_are_allowed_then_refused_with_retry_after(
    client: Client, pool: Any
) -> None:
    results = [await hit(client, limit=3, window=60) for _ in range(5)]

    assert results[:3] == [{"allowed": True, "count": n, "retry_after": 0} for n in (1, 2, 3)]
    for result in results[3:]:
        assert (result["allowed"], result["count"]) == (False, 4)
        assert 59 <= result["retry_after"] <= 60
    # Refused calls are not stored: a key never holds more than its limit.
    assert await pool.fetchval("SELECT count(*) FROM throttle_events") == 3


async def test_retry_after_is_when_the_oldest_event_leaves_the_window(
    client: Client, pool: Any
) -> None:
    await hit(client, limit=2, window=60)
    await age_events(pool, 45)
    await hit(client, limit=2, window=60)

    refused = await hit(client, limit=2, window=60)

    assert refused["allowed"] is False
    assert 14 <= refused["retry_after"] <= 15


async def test_the_window_slides(client: Client, pool: Any) -> None:
    await hit(client, limit=2, window=60)
    await age_events(pool, 40)
    await hit(client, limit=2, window=60)
    assert (await hit(client, limit=2, window=60))["allowed"] is False

    # The first event is now 61 s old, the second 21 s: one slot is free again.
    await age_events(pool, 21)
    again = await hit(client, limit=2, window=60)
    refused = await hit(client, limit=2, window=60)

    assert again == {"allowed": True, "count": 2, "retry_after": 0}
    assert refused["allowed"] is False
    assert 38 <= refused["retry_after"] <= 39
    # The event that left the window was pruned on the way.
    assert await pool.fetchval("SELECT count(*) FROM throttle_events") == 2


async def test_a_lowered_limit_waits_for_enough_events_to_leave(client: Client, pool: Any) -> None:
    for _ in range(4):
        await hit(client, limit=10, window=60)
        await age_events(pool, 10)
    # Four events aged 40, 30, 20 and 10 s; with a limit of 2 the next call needs three of
    # them gone: the one now 20 s old leaves in 40 s.
    refused = await hit(client, limit=2, window=60)

    assert (refused["allowed"], refused["count"]) == (False, 5)
    assert 39 <= refused["retry_after"] <= 40


async def test_keys_are_counted_apart(client: Client) -> None:
    await hit(client, key="login:ip:192.0.2.1", limit=1)

    assert (await hit(client, key="login:ip:192.0.2.1", limit=1))["allowed"] is False
    assert (await hit(client, key="login:ip:192.0.2.2", limit=1))["allowed"] is True


async def test_forgetting_a_key_allows_it_again(client: Client) -> None:
    await hit(client, limit=1)
    await hit(client, key="other", limit=1)

    response = await client.delete(f"/v1/throttle/{KEY}", headers=AUTH)
    unknown = await client.delete("/v1/throttle/never-seen", headers=AUTH)

    assert (response.status, unknown.status) == (204, 204)
    assert (await hit(client, limit=1))["allowed"] is True
    assert (await hit(client, key="other", limit=1))["allowed"] is False


async def test_a_key_with_a_slash_can_be_forgotten_percent_encoded(client: Client) -> None:
    key = "register:ip:2001:db8::/64"
    await hit(client, key=key, limit=1)

    response = await client.delete("/v1/throttle/register:ip:2001:db8::%2F64", headers=AUTH)

    assert response.status == 204
    assert (await hit(client, key=key, limit=1))["allowed"] is True


async def test_concurrent_calls_never_admit_more_than_the_limit(client: Client) -> None:
    results = await asyncio.gather(*(hit(client, limit=5, window=60) for _ in range(20)))

    assert sum(result["allowed"] for result in results) == 5
    assert sorted(result["count"] for result in results if result["allowed"]) == [1, 2, 3, 4, 5]


async def test_pruning_deletes_events_older_than_any_window(pool: Any) -> None:
    await db.hit(pool, key="old", limit=5, window=60)
    await db.hit(pool, key="recent", limit=5, window=86_400)
    await age_events(pool, 86_401, key="old")
    await age_events(pool, 86_000, key="recent")

    pruned = await db.prune_throttle(pool)

    assert pruned == 1
    assert [row["key"] for row in await pool.fetch("SELECT key FROM throttle_events")] == ["recent"]


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, {"key", "limit", "window"}),
        ({"key": "", "limit": 1, "window": 1}, {"key"}),
        ({"key": "k" * 201, "limit": 1, "window": 1}, {"key"}),
        ({"key": 5, "limit": 1, "window": 1}, {"key"}),
        ({"key": "a\x00b", "limit": 1, "window": 1}, {"key"}),
        ({"key": "k", "limit": 0, "window": 1}, {"limit"}),
        ({"key": "k", "limit": 100_001, "window": 1}, {"limit"}),
        ({"key": "k", "limit": "5", "window": 1}, {"limit"}),
        ({"key": "k", "limit": True, "window": 1}, {"limit"}),
        ({"key": "k", "limit": 2.5, "window": 1}, {"limit"}),
        ({"key": "k", "limit": 1, "window": 0}, {"window"}),
        ({"key": "k", "limit": 1, "window": 86_401}, {"window"}),
        ({"key": "k", "limit": 1, "window": None}, {"window"}),
        ({"key": "k", "limit": -1, "window": -1}, {"limit", "window"}),
    ],
)
async def test_throttle_field_errors_are_422(
    client: Client, body: dict[str, Any], fields: set[str]
) -> None:
    response = await client.post("/v1/throttle", json=body, headers=AUTH)

    assert response.status == 422
    assert set((await response.json())["fields"]) == fields


async def test_largest_values_are_accepted(client: Client) -> None:
    result = await hit(client, key="k" * 200, limit=100_000, window=86_400)

    assert result == {"allowed": True, "count": 1, "retry_after": 0}


async def test_forgetting_an_overlong_key_is_422(client: Client) -> None:
    response = await client.delete("/v1/throttle/" + "k" * 201, headers=AUTH)

    assert response.status == 422
    assert set((await response.json())["fields"]) == {"key"}
