"""\\Recent claims (views.imap.claim_recent, migration 0011) on real PostgreSQL, over HTTP:
each UID goes to one claim only, however many race (RFC 3501 §2.3.2)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from mailstore.settings import DEV_MAILSTORE_TOKEN

Client = TestClient[web.Request, web.Application]
AUTH = {"Authorization": f"Bearer {DEV_MAILSTORE_TOKEN}"}
ALICE = "alice@localpost.test"
IMAP = f"/v1/accounts/{ALICE}/imap"
RAW = b"From: carol@example.com\r\nSubject: Hi\r\n\r\nHello.\r\n"


@pytest.fixture
async def alice(client: Client) -> None:
    body = {"address": ALICE, "name": "", "password": "correct horse battery"}
    response = await client.post("/v1/accounts", json=body, headers=AUTH)
    assert response.status == 201


async def append(client: Client, count: int = 1) -> None:
    form = aiohttp.FormData()
    meta = {"folder": "INBOX", "messages": [{"flags": []} for _ in range(count)]}
    form.add_field("meta", json.dumps(meta), content_type="application/json")
    for _ in range(count):
        form.add_field("message", RAW, content_type="message/rfc822", filename="m.eml")
    response = await client.post(IMAP + "/append", data=form, headers=AUTH)
    assert response.status == 200, await response.text()


async def claim(client: Client, status: int = 200, **body: Any) -> Any:
    response = await client.post(IMAP + "/recent", json={"folder": "INBOX", **body}, headers=AUTH)
    assert response.status == status, await response.text()
    return (await response.json()).get("recent")


async def recent_status(client: Client) -> int:
    response = await client.get(IMAP + "/status", params={"folder": "INBOX"}, headers=AUTH)
    count: int = (await response.json())["recent"]
    return count


def expand(uids: str) -> list[int]:
    found: list[int] = []
    for run in filter(None, uids.split(",")):
        low, _, high = run.partition(":")
        found += range(int(low), int(high or low) + 1)
    return found


async def test_a_claim_takes_what_nobody_claimed_and_a_look_takes_nothing(
    client: Client, alice: None
) -> None:
    await append(client, 3)

    looked = await claim(client, claim=False)
    before = await recent_status(client)
    first = await claim(client)
    second = await claim(client)
    await append(client)
    third = await claim(client)

    assert (looked, before) == ("1:3", 3)
    assert (first, second, third) == ("1:3", "", "4")
    assert await recent_status(client) == 0


async def test_racing_claims_never_share_a_uid(client: Client, alice: None) -> None:
    async def claims() -> list[str]:
        return [await claim(client) for _ in range(6)]

    async def appends() -> None:
        for _ in range(6):
            await append(client, 2)

    results = await asyncio.gather(appends(), *(claims() for _ in range(4)))
    claimed = [uid for runs in results[1:] for uids in runs for uid in expand(uids)]
    claimed += expand(await claim(client))

    assert sorted(claimed) == list(range(1, 13))  # each of the 12 exactly once


@pytest.mark.parametrize(
    "body", [{"folder": ""}, {"folder": "a*"}, {"folder": "INBOX", "claim": "yes"}]
)
async def test_invalid_claims_are_422(client: Client, alice: None, body: Any) -> None:
    response = await client.post(IMAP + "/recent", json=body, headers=AUTH)
    assert response.status == 422


async def test_a_claim_on_a_missing_folder_is_404(client: Client, alice: None) -> None:
    response = await client.post(IMAP + "/recent", json={"folder": "Nowhere"}, headers=AUTH)
    assert response.status == 404
