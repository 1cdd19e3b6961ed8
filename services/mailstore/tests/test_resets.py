"""Password-reset links through the API the web's reset page calls."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from mailstore import admin
from mailstore.settings import DEV_MAILSTORE_TOKEN

Client = TestClient[web.Request, web.Application]

AUTH = {"Authorization": f"Bearer {DEV_MAILSTORE_TOKEN}"}
ALICE = "alice@localpost.test"
PASSWORD = "alice's old password"
NEW_PASSWORD = "a new and longer password"


@pytest.fixture
async def alice(client: Client, pool: Any) -> None:
    body = {"address": ALICE, "name": "Alice", "password": PASSWORD}
    assert (await client.post("/v1/accounts", json=body, headers=AUTH)).status == 201


async def issue(pool: Any, hours: int = 24) -> str:
    link, _ = await admin.issue_reset(pool, ALICE, base_url="http://x", hours=hours)
    return link.rpartition("/")[2]


async def verifies(client: Client, password: str) -> bool:
    body = {"address": ALICE, "password": password, "client": "127.0.0.1", "channel": "web"}
    return (await client.post("/v1/auth/verify", json=body, headers=AUTH)).status == 200


async def use(client: Client, token: str, **body: Any) -> Any:
    body = {"new_password": NEW_PASSWORD, **body}
    return await client.post(f"/v1/password-resets/{token}", json=body, headers=AUTH)


async def test_a_link_names_its_account_and_sets_the_password_once(
    client: Client, pool: Any, alice: None
) -> None:
    token = await issue(pool)
    owner = await client.get(f"/v1/password-resets/{token}", headers=AUTH)
    assert owner.status == 200
    assert (await owner.json())["address"] == ALICE

    used = await use(client, token)
    assert used.status == 200
    assert (await used.json()) == {"address": ALICE, "name": "Alice"}
    assert await verifies(client, NEW_PASSWORD)
    assert not await verifies(client, PASSWORD)

    # Used: gone, for a look and for a second use.
    assert (await client.get(f"/v1/password-resets/{token}", headers=AUTH)).status == 404
    assert (await use(client, token, new_password="yet another password")).status == 404
    assert await verifies(client, NEW_PASSWORD)


async def test_a_reset_ends_every_session_and_keeps_tokens_unless_asked(
    client: Client, pool: Any, alice: None
) -> None:
    session = await client.post("/v1/sessions", json={"address": ALICE}, headers=AUTH)
    secret = (await session.json())["session"]
    made = await client.post(f"/v1/accounts/{ALICE}/tokens", json={"name": "s"}, headers=AUTH)
    api_token = (await made.json())["token"]

    assert (await use(client, await issue(pool))).status == 200
    assert (await client.get(f"/v1/sessions/{secret}", headers=AUTH)).status == 404
    assert (await client.get(f"/v1/tokens/{api_token}", headers=AUTH)).status == 200

    assert (await use(client, await issue(pool), revoke_tokens=True)).status == 200
    assert (await client.get(f"/v1/tokens/{api_token}", headers=AUTH)).status == 404


async def test_an_expired_or_replaced_link_is_404(client: Client, pool: Any, alice: None) -> None:
    expired = await issue(pool)
    await pool.execute("UPDATE password_resets SET expires_at = now() - interval '1 second'")
    assert (await client.get(f"/v1/password-resets/{expired}", headers=AUTH)).status == 404
    assert (await use(client, expired)).status == 404

    replaced = await issue(pool)
    await issue(pool)
    assert (await use(client, replaced)).status == 404
    assert await verifies(client, PASSWORD)


@pytest.mark.parametrize(
    "token", ["junk", "x" * 101, "x" * 43, "%00", "..%2f..%2fetc", "%F0%9F%94%91", "%ED%A0%80"]
)
async def test_a_junk_token_is_404_never_5xx(
    client: Client, pool: Any, alice: None, token: str
) -> None:
    await issue(pool)
    assert (await client.get(f"/v1/password-resets/{token}", headers=AUTH)).status == 404
    assert (await use(client, token)).status == 404


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"new_password": "short"},
        {"new_password": "x" * 1025},
        {"new_password": 12345678},
        {"new_password": NEW_PASSWORD, "revoke_tokens": "yes"},
        {"new_password": "nul\x00inside password"},
    ],
)
async def test_a_bad_body_is_422_and_keeps_the_link(
    client: Client, pool: Any, alice: None, body: dict[str, Any]
) -> None:
    token = await issue(pool)
    response = await client.post(f"/v1/password-resets/{token}", json=body, headers=AUTH)
    assert response.status == 422
    assert (await client.get(f"/v1/password-resets/{token}", headers=AUTH)).status == 200


async def test_access_log_shows_the_route_instead_of_the_link_secret(
    logged_client: Client, pool: Any, alice: None, caplog: pytest.LogCaptureFixture
) -> None:
    token = await issue(pool)
    await logged_client.get(f"/v1/password-resets/{token}", headers=AUTH)
    await use(logged_client, token)

    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert token not in logged
    assert '"GET /v1/password-resets/{token}" 200' in logged
    assert '"POST /v1/password-resets/{token}" 200' in logged
