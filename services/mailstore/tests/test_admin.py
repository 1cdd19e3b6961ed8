"""LOCALPOST_ADMINS at start: the accounts it names become administrators."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from mailstore import db
from mailstore.main import create_app
from mailstore.settings import Config

ALICE, GHOST = "alice@localpost.test", "ghost@localpost.test"
AUTH = {"Authorization": "Bearer dev-mailstore-token-not-a-secret"}


async def admins(pool: Any) -> list[str]:
    return [row["address"] for row in await db.list_admins(pool)]


async def test_admins_named_at_start_are_granted_and_a_missing_one_is_warned_about(
    config: Config, pool: Any, caplog: pytest.LogCaptureFixture
) -> None:
    await db.create_account(pool, address=ALICE, name="Alice", password_hash="x")
    await db.create_account(pool, address="bob@localpost.test", name="Bob", password_hash="x")
    config = dataclasses.replace(config, admins=(ALICE, GHOST))
    caplog.set_level(logging.INFO, logger="mailstore.admin")

    app = create_app(config, consume=False, maintenance=False)
    async with TestClient(TestServer(app)) as client:
        assert await admins(pool) == [ALICE]
        assert GHOST in caplog.text
        assert "no account" in caplog.text

        # Registering the missing address later does not make it an administrator:
        # whoever registered it first would get the role.
        body = {"address": GHOST, "name": "Ghost", "password": "a long password"}
        assert (await client.post("/v1/accounts", json=body, headers=AUTH)).status == 201
        assert await admins(pool) == [ALICE]


async def test_nobody_is_an_administrator_by_registering_first(
    client: TestClient[Any, Any], pool: Any
) -> None:
    body = {"address": ALICE, "name": "Alice", "password": "a long password"}
    assert (await client.post("/v1/accounts", json=body, headers=AUTH)).status == 201
    assert await admins(pool) == []


PASSWORD = "a long password"


async def test_a_disabled_account_logs_in_nowhere_and_its_sessions_end_at_once(
    client: TestClient[Any, Any], pool: Any
) -> None:
    from mailstore import admin

    body = {"address": ALICE, "name": "Alice", "password": PASSWORD}
    assert (await client.post("/v1/accounts", json=body, headers=AUTH)).status == 201
    made = await client.post("/v1/sessions", json={"address": ALICE}, headers=AUTH)
    session = (await made.json())["session"]
    made = await client.post(f"/v1/accounts/{ALICE}/tokens", json={"name": "s"}, headers=AUTH)
    token = (await made.json())["token"]
    link, _ = await admin.issue_reset(pool, ALICE, base_url="http://x")

    await admin.set_disabled(pool, ALICE, disabled=True)

    for channel in ("web", "api", "smtp", "imap", "pop3"):
        attempt = {"address": ALICE, "password": PASSWORD, "client": "127.0.0.1"}
        verify = await client.post(
            "/v1/auth/verify", json={**attempt, "channel": channel}, headers=AUTH
        )
        assert verify.status == 401, channel
    assert (await client.get(f"/v1/sessions/{session}", headers=AUTH)).status == 404
    assert (await client.get(f"/v1/tokens/{token}", headers=AUTH)).status == 404
    reset = link.rpartition("/")[2]
    assert (await client.get(f"/v1/password-resets/{reset}", headers=AUTH)).status == 404
    mailbox = await client.get(f"/v1/mailboxes/{ALICE}", headers=AUTH)
    assert (await mailbox.json())["disabled"] is True

    await admin.set_disabled(pool, ALICE, disabled=False)
    attempt = {"address": ALICE, "password": PASSWORD, "client": "127.0.0.1", "channel": "imap"}
    assert (await client.post("/v1/auth/verify", json=attempt, headers=AUTH)).status == 200
    # Its API tokens were kept for this; its sessions were not.
    assert (await client.get(f"/v1/tokens/{token}", headers=AUTH)).status == 200
    assert (await client.get(f"/v1/sessions/{session}", headers=AUTH)).status == 404
    mailbox = await client.get(f"/v1/mailboxes/{ALICE}", headers=AUTH)
    assert (await mailbox.json())["disabled"] is False
