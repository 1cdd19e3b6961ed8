"""Clients in LOCALPOST_TRUSTED_NETWORKS (loopback by default) stand for many people: a
NAT, a reverse proxy in front of the web. With the mail store's default
LOCALPOST_THROTTLE_TRUSTED=0 they are spared the per-client limits (issue 15); the
account's ceiling still holds. The other modules run with LOCALPOST_THROTTLE_TRUSTED=1."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from webmail import auth

Client = TestClient[web.Request, web.Application]
WRONG = "not the password at all"


@pytest.fixture
def throttle_trusted() -> str:
    return "0"


async def login_status(client: Client, h: Any, address: str, password: str) -> int:
    token = await h.csrf_token(client)
    data = {"address": address, "password": password, "csrf_token": token}
    response = await client.post("/login", data=data, allow_redirects=False)
    return response.status


async def test_sign_ups_from_a_trusted_network_are_not_limited_per_address(
    client: Client, h: Any
) -> None:
    limit, _ = auth.REGISTER_PER_IP
    for _ in range(limit + 2):
        await h.register(client)  # 201 each, or it fails


async def test_failed_logins_from_a_trusted_network_are_not_limited_per_address(
    client: Client, h: Any
) -> None:
    owner = await h.register(client)
    # More than the 20 per client and the 10 per (account, client) of 15 minutes.
    guesses = [await login_status(client, h, h.fresh_address(), WRONG) for _ in range(21)]
    mistakes = [await login_status(client, h, owner, WRONG) for _ in range(11)]

    assert guesses == [401] * 21
    assert mistakes == [401] * 11
    assert await login_status(client, h, owner, h.password) == 303


async def test_failed_api_logins_from_a_trusted_network_are_not_limited_per_address(
    client: Client, h: Any
) -> None:
    owner = await h.register(client)
    # A script behind the proxy mistyping its password, then a guesser behind it too.
    mistakes = [
        (await client.post("/api/v1/tokens", headers=h.basic(owner, WRONG))).status
        for _ in range(11)
    ]
    guesses = [
        (await client.post("/api/v1/tokens", headers=h.basic(h.fresh_address(), WRONG))).status
        for _ in range(21)
    ]
    right = await client.post("/api/v1/tokens", headers=h.basic(owner, h.password))

    assert mistakes == [401] * 11
    assert guesses == [401] * 21
    assert right.status == 201
