"""Schemathesis over the internal API's OpenAPI document, against the real app on a
socket and PostgreSQL: no 5xx, only documented statuses and shapes; and without the
service token every /v1 call is refused.

Derandomised and bounded (``mailstore.testing.fuzz_openapi``); raise
LOCALPOST_FUZZ_EXAMPLES for a longer hunt."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from mailstore.openapi import OPENAPI
from mailstore.settings import DEV_MAILSTORE_TOKEN
from mailstore.testing import fuzz_openapi

Client = TestClient[web.Request, web.Application]

EXAMPLES = int(os.environ.get("LOCALPOST_FUZZ_EXAMPLES", "10"))
ALICE = "alice@localpost.test"


async def _fuzz(client: Client, token: str | None) -> tuple[list[str], dict[str, set[int]]]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return await asyncio.to_thread(
        fuzz_openapi,
        OPENAPI,
        base_url=str(client.make_url("")).rstrip("/"),
        headers=headers,
        examples=EXAMPLES,
    )


async def test_the_internal_api_keeps_its_openapi_promises(client: Client, deliver: Any) -> None:
    created = await client.post(
        "/v1/accounts",
        json={"address": ALICE, "name": "Alice", "password": "alice-password-123"},
        headers={"Authorization": f"Bearer {DEV_MAILSTORE_TOKEN}"},
    )
    assert created.status == 201
    await deliver(b"From: a@example.com\r\nSubject: hi\r\n\r\nhello\r\n", rcpt_to=[ALICE])

    failures, statuses = await _fuzz(client, DEV_MAILSTORE_TOKEN)

    assert failures == []
    # The token was taken: only a wrong user password is 401.
    assert [label for label, seen in statuses.items() if 401 in seen] == ["POST /v1/auth/verify"]


async def test_every_v1_call_refuses_a_caller_without_the_service_token(client: Client) -> None:
    failures, statuses = await _fuzz(client, None)

    assert failures == []
    v1 = {label: seen for label, seen in statuses.items() if " /v1/" in label}
    assert len(v1) >= 20
    # Schemathesis makes up bearer tokens of its own too: those are 403.
    assert all(seen and seen <= {401, 403} for seen in v1.values()), v1
