from __future__ import annotations

import dataclasses
import hashlib
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from mailstore import db
from mailstore.main import create_app
from mailstore.settings import DEV_MAILSTORE_TOKEN, Config

Client = TestClient[web.Request, web.Application]
AUTH = {"Authorization": f"Bearer {DEV_MAILSTORE_TOKEN}"}
# The client and channel every login names; loopback is a trusted network, so only the
# per-account ceiling applies (test_logins.py checks the limits themselves).
LOGIN = {"client": "127.0.0.1", "channel": "web"}
ALICE, BOB = "alice@localpost.test", "bob@localpost.test"
# secrets.token_urlsafe(32): 32 random bytes, unpadded URL-safe base64.
SECRET = re.compile(r"[A-Za-z0-9_-]{43}")


@pytest.fixture
async def alice_and_bob(pool: Any) -> None:
    # The password hash is never checked here: no bcrypt needed.
    await db.create_account(pool, address=ALICE, name="Alice Liddell", password_hash="x")
    await db.create_account(pool, address=BOB, name="Bob", password_hash="x")


async def start_session(client: Client, address: str = ALICE) -> str:
    response = await client.post("/v1/sessions", json={"address": address}, headers=AUTH)
    assert response.status == 201, await response.text()
    secret: str = (await response.json())["session"]
    return secret


async def session_status(client: Client, secret: str) -> int:
    return (await client.get(f"/v1/sessions/{secret}", headers=AUTH)).status


def sha256(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def days_from_now(iso: str) -> float:
    return (datetime.fromisoformat(iso) - datetime.now(UTC)) / timedelta(days=1)


# -- sessions --------------------------------------------------------------------------------


async def test_new_session_is_a_random_secret_stored_only_as_its_hash(
    client: Client, alice_and_bob: None, pool: Any
) -> None:
    response = await client.post(
        "/v1/sessions", json={"address": "Alice@LOCALPOST.test"}, headers=AUTH
    )
    body = await response.json()
    other = await start_session(client)
    rows = await pool.fetch("SELECT * FROM sessions")

    assert response.status == 201
    assert SECRET.fullmatch(body["session"])
    assert other != body["session"]
    assert 13.99 < days_from_now(body["expires_at"]) <= 14
    assert {row["secret_hash"] for row in rows} == {sha256(body["session"]), sha256(other)}
    for row in rows:
        assert body["session"] not in repr(dict(row))


async def test_session_for_an_unknown_account_is_404(client: Client, alice_and_bob: None) -> None:
    response = await client.post(
        "/v1/sessions", json={"address": "nobody@localpost.test"}, headers=AUTH
    )

    assert response.status == 404


@pytest.mark.parametrize("body", [{}, {"address": 5}, {"address": None}, ["alice"]])
async def test_session_without_an_address_is_422(client: Client, body: Any) -> None:
    response = await client.post("/v1/sessions", json=body, headers=AUTH)

    assert response.status == 422


async def test_session_lookup_names_the_account_and_marks_it_used(
    client: Client, alice_and_bob: None, pool: Any
) -> None:
    secret = await start_session(client)
    await pool.execute(
        "UPDATE sessions SET last_used_at = now() - interval '3 days',"
        " expires_at = now() + interval '1 day'"
    )

    response = await client.get(f"/v1/sessions/{secret}", headers=AUTH)
    body = await response.json()
    last_used = await pool.fetchval("SELECT last_used_at FROM sessions")

    assert response.status == 200
    assert (body["address"], body["name"]) == (ALICE, "Alice Liddell")
    # Sliding expiry: the use pushed the end 14 days past now.
    assert 13.99 < days_from_now(body["expires_at"]) <= 14
    assert datetime.now(UTC) - last_used < timedelta(minutes=1)


async def test_session_days_come_from_the_configuration(
    config: Config, alice_and_bob: None
) -> None:
    app = create_app(dataclasses.replace(config, session_days=1), consume=False, maintenance=False)
    async with TestClient(TestServer(app)) as client:
        response = await client.post("/v1/sessions", json={"address": ALICE}, headers=AUTH)
        created = await response.json()
        looked_up = await (
            await client.get(f"/v1/sessions/{created['session']}", headers=AUTH)
        ).json()

    assert 0.99 < days_from_now(created["expires_at"]) <= 1
    assert 0.99 < days_from_now(looked_up["expires_at"]) <= 1


async def test_expired_session_is_404(client: Client, alice_and_bob: None, pool: Any) -> None:
    secret = await start_session(client)
    await pool.execute("UPDATE sessions SET expires_at = now() - interval '1 second'")

    assert await session_status(client, secret) == 404


@pytest.mark.parametrize("secret", ["unknown", "x" * 43, "y" * 5000])
async def test_unknown_session_is_404(client: Client, alice_and_bob: None, secret: str) -> None:
    await start_session(client)

    assert await session_status(client, secret) == 404


async def test_ending_a_session_ends_only_that_one_and_is_idempotent(
    client: Client, alice_and_bob: None
) -> None:
    ended, kept = await start_session(client), await start_session(client)

    first = await client.delete(f"/v1/sessions/{ended}", headers=AUTH)
    second = await client.delete(f"/v1/sessions/{ended}", headers=AUTH)

    assert (first.status, second.status) == (204, 204)
    assert await session_status(client, ended) == 404
    assert await session_status(client, kept) == 200


async def test_ending_every_session_of_an_account_leaves_the_others(
    client: Client, alice_and_bob: None
) -> None:
    alice = [await start_session(client) for _ in range(3)]
    bob = await start_session(client, BOB)

    response = await client.delete("/v1/accounts/ALICE@localpost.test/sessions", headers=AUTH)
    missing = await client.delete("/v1/accounts/nobody@localpost.test/sessions", headers=AUTH)

    assert response.status == 204
    assert missing.status == 404
    assert [await session_status(client, secret) for secret in alice] == [404, 404, 404]
    assert await session_status(client, bob) == 200


async def test_a_deleted_account_takes_its_sessions_and_tokens_along(
    client: Client, alice_and_bob: None, pool: Any
) -> None:
    secret = await start_session(client)
    token = await create_token(client)

    await pool.execute("DELETE FROM accounts WHERE address = $1", ALICE)

    assert await session_status(client, secret) == 404
    assert (await client.get(f"/v1/tokens/{token['token']}", headers=AUTH)).status == 404


# -- API tokens ------------------------------------------------------------------------------


async def create_token(client: Client, name: str = "laptop", address: str = ALICE) -> Any:
    response = await client.post(
        f"/v1/accounts/{address}/tokens", json={"name": name}, headers=AUTH
    )
    assert response.status == 201, await response.text()
    return await response.json()


async def tokens_of(client: Client, address: str = ALICE) -> list[dict[str, Any]]:
    response = await client.get(f"/v1/accounts/{address}/tokens", headers=AUTH)
    assert response.status == 200
    tokens: list[dict[str, Any]] = (await response.json())["tokens"]
    return tokens


async def test_new_token_is_prefixed_shown_once_and_stored_as_its_hash(
    client: Client, alice_and_bob: None, pool: Any
) -> None:
    created = await create_token(client, "  CI script  ")
    stored = await pool.fetchrow("SELECT * FROM api_tokens")

    assert created["token"].startswith("lp_")
    assert SECRET.fullmatch(created["token"].removeprefix("lp_"))
    assert created["name"] == "CI script"
    assert datetime.now(UTC) - datetime.fromisoformat(created["created_at"]) < timedelta(minutes=1)
    assert stored["token_hash"] == sha256(created["token"])
    assert created["token"].removeprefix("lp_") not in repr(dict(stored))
    assert await tokens_of(client) == [
        {
            "id": created["id"],
            "name": "CI script",
            "created_at": created["created_at"],
            "last_used_at": None,
        }
    ]


async def test_token_lookup_names_the_owner_and_records_the_use(
    client: Client, alice_and_bob: None
) -> None:
    first, second = await create_token(client, "one"), await create_token(client, "two")

    response = await client.get(f"/v1/tokens/{second['token']}", headers=AUTH)
    listed = await tokens_of(client)

    assert response.status == 200
    assert await response.json() == {"address": ALICE, "name": "Alice Liddell", "is_admin": False}
    assert [token["id"] for token in listed] == [first["id"], second["id"]]
    assert listed[0]["last_used_at"] is None
    assert listed[1]["last_used_at"] is not None
    assert all("token" not in token for token in listed)


@pytest.mark.parametrize("token", ["lp_unknown", "unknown", "lp_" + "x" * 5000])
async def test_unknown_token_is_404(client: Client, alice_and_bob: None, token: str) -> None:
    created = await create_token(client)
    # The secret part without its prefix is not the token either.
    bare = await client.get(f"/v1/tokens/{created['token'].removeprefix('lp_')}", headers=AUTH)

    assert (await client.get(f"/v1/tokens/{token}", headers=AUTH)).status == 404
    assert bare.status == 404


async def test_revoked_token_stops_working(client: Client, alice_and_bob: None) -> None:
    revoked, kept = await create_token(client, "old"), await create_token(client, "new")

    response = await client.delete(f"/v1/accounts/{ALICE}/tokens/{revoked['id']}", headers=AUTH)
    again = await client.delete(f"/v1/accounts/{ALICE}/tokens/{revoked['id']}", headers=AUTH)

    assert response.status == 204
    assert again.status == 404
    assert (await client.get(f"/v1/tokens/{revoked['token']}", headers=AUTH)).status == 404
    assert (await client.get(f"/v1/tokens/{kept['token']}", headers=AUTH)).status == 200
    assert [token["name"] for token in await tokens_of(client)] == ["new"]


async def test_another_accounts_token_cannot_be_listed_or_revoked(
    client: Client, alice_and_bob: None
) -> None:
    bobs = await create_token(client, "bob's", address=BOB)

    revoke = await client.delete(f"/v1/accounts/{ALICE}/tokens/{bobs['id']}", headers=AUTH)
    huge = await client.delete(f"/v1/accounts/{ALICE}/tokens/99999999999999999999", headers=AUTH)

    assert (revoke.status, huge.status) == (404, 404)
    assert await tokens_of(client) == []
    assert (await client.get(f"/v1/tokens/{bobs['token']}", headers=AUTH)).status == 200


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": ""},
        {"name": "   "},
        {"name": 5},
        {"name": "x" * 101},
        {"name": "a\x00b"},
        {"name": "a\nb"},
    ],
)
async def test_token_name_field_errors_are_422(
    client: Client, alice_and_bob: None, body: dict[str, Any]
) -> None:
    response = await client.post(f"/v1/accounts/{ALICE}/tokens", json=body, headers=AUTH)

    assert response.status == 422
    assert set((await response.json())["fields"]) == {"name"}


async def test_token_name_of_100_characters_is_accepted(
    client: Client, alice_and_bob: None
) -> None:
    assert (await create_token(client, "x" * 100))["name"] == "x" * 100


async def test_token_routes_of_a_missing_account_are_404(client: Client) -> None:
    base = "/v1/accounts/nobody@localpost.test/tokens"
    for method, path in (("POST", base), ("GET", base), ("DELETE", base + "/1")):
        response = await client.request(method, path, json={"name": "x"}, headers=AUTH)
        assert response.status == 404, (method, path)


# -- secrets stay out of the logs ------------------------------------------------------------


async def test_access_log_shows_the_route_instead_of_a_secret(
    logged_client: Client, alice_and_bob: None, caplog: pytest.LogCaptureFixture
) -> None:
    client = logged_client
    secret = await start_session(client)
    token = (await create_token(client))["token"]
    await client.get(f"/v1/sessions/{secret}", headers=AUTH)
    await client.delete(f"/v1/sessions/{secret}", headers=AUTH)
    await client.get(f"/v1/tokens/{token}", headers=AUTH)
    await client.get(f"/v1/accounts/{ALICE}/messages?folder=inbox", headers=AUTH)

    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert secret not in logged
    assert token.removeprefix("lp_") not in logged
    assert '"GET /v1/sessions/{secret}" 200' in logged
    assert '"DELETE /v1/sessions/{secret}" 204' in logged
    assert '"GET /v1/tokens/{token}" 200' in logged
    assert f'"GET /v1/accounts/{ALICE}/messages" 200' in logged


async def test_unexpected_error_log_shows_the_route_instead_of_a_secret(
    client: Client, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(db, "use_session", broken)
    secret = "s" * 43

    response = await client.get(f"/v1/sessions/{secret}", headers=AUTH)

    assert response.status == 500
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "GET /v1/sessions/{secret}" in logged
    assert secret not in logged


async def test_an_address_holding_nul_names_no_account(client: Client, alice_and_bob: None) -> None:
    # PostgreSQL text cannot hold NUL: these must be 404, not a database error.
    session = await client.post("/v1/sessions", json={"address": "alice\x00@x"}, headers=AUTH)
    tokens = await client.get("/v1/accounts/alice%00@localpost.test/tokens", headers=AUTH)
    mailbox = await client.get("/v1/mailboxes/alice%00@localpost.test", headers=AUTH)
    verify = await client.post(
        "/v1/auth/verify",
        json={"address": "alice\x00", "password": "whatever!", **LOGIN},
        headers=AUTH,
    )

    assert (session.status, tokens.status, mailbox.status, verify.status) == (404, 404, 404, 401)
