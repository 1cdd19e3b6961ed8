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
