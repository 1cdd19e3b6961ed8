"""The web's drafts on real PostgreSQL, over HTTP: a save lands in Drafts flagged \\Draft
and \\Seen, a save again replaces it in one transaction, a sent draft is deleted, and
nothing outside the account's Drafts can be replaced or deleted (views.drafts)."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from mailstore.settings import DEV_MAILSTORE_TOKEN

Client = TestClient[web.Request, web.Application]
AUTH = {"Authorization": f"Bearer {DEV_MAILSTORE_TOKEN}"}
ALICE, BOB = "alice@localpost.test", "bob@localpost.test"


def draft(subject: str = "Plans") -> bytes:
    return (
        f"From: {ALICE}\r\nTo: {BOB}\r\nSubject: {subject}\r\n"
        "Message-ID: <d@localpost.test>\r\n\r\nHalf a thought.\r\n"
    ).encode()


@pytest.fixture
async def people(client: Client) -> None:
    for address in (ALICE, BOB):
        body = {"address": address, "name": "", "password": "correct horse battery"}
        response = await client.post("/v1/accounts", json=body, headers=AUTH)
        assert response.status == 201


async def save(
    client: Client, raw: bytes, replaces: Any = None, status: int = 201, who: str = ALICE
) -> Any:
    form = aiohttp.FormData()
    form.add_field("meta", json.dumps({"replaces": replaces}), content_type="application/json")
    form.add_field("message", raw, content_type="message/rfc822", filename="d.eml")
    response = await client.post(f"/v1/accounts/{who}/drafts", data=form, headers=AUTH)
    assert response.status == status, await response.text()
    return await response.json()


async def drafts_folder(client: Client, who: str = ALICE) -> list[dict[str, Any]]:
    response = await client.get(
        f"/v1/accounts/{who}/messages", params={"folder": "drafts"}, headers=AUTH
    )
    assert response.status == 200
    return list((await response.json())["messages"])


async def imap_flags(client: Client) -> list[list[str]]:
    response = await client.post(
        f"/v1/accounts/{ALICE}/imap/fetch",
        json={"folder": "Drafts", "uids": "1:4294967295"},
        headers=AUTH,
    )
    assert response.status == 200, await response.text()
    return [json.loads(line)["flags"] for line in (await response.text()).splitlines()]


async def test_a_saved_draft_is_in_drafts_flagged_draft_and_seen(
    client: Client, people: None
) -> None:
    saved = await save(client, draft())
    listed = await drafts_folder(client)
    assert [m["id"] for m in listed] == [saved["id"]]
    assert listed[0]["subject"] == "Plans"
    assert [sorted(flags) for flags in await imap_flags(client)] == [["\\Draft", "\\Seen"]]


async def test_saving_again_replaces_the_draft(client: Client, people: None) -> None:
    first = await save(client, draft("one"))
    second = await save(client, draft("two"), replaces=first["id"])
    assert second["id"] != first["id"]
    assert [(m["id"], m["subject"]) for m in await drafts_folder(client)] == [(second["id"], "two")]


async def test_a_replace_of_a_missing_draft_stores_nothing(client: Client, people: None) -> None:
    first = await save(client, draft("one"))
    await client.delete(f"/v1/accounts/{ALICE}/drafts/{first['id']}", headers=AUTH)
    await save(client, draft("two"), replaces=first["id"], status=404)
    assert await drafts_folder(client) == []


async def test_another_accounts_draft_is_neither_replaced_nor_deleted(
    client: Client, people: None
) -> None:
    bobs = await save(client, draft("bob's"), who=BOB)
    await save(client, draft("mine"), replaces=bobs["id"], status=404)
    response = await client.delete(f"/v1/accounts/{ALICE}/drafts/{bobs['id']}", headers=AUTH)
    assert response.status == 404
    assert [m["id"] for m in await drafts_folder(client, BOB)] == [bobs["id"]]


async def test_a_message_outside_drafts_is_no_draft(
    client: Client, people: None, deliver: Any
) -> None:
    await deliver(draft("delivered"), rcpt_to=[ALICE])
    response = await client.get(
        f"/v1/accounts/{ALICE}/messages", params={"folder": "inbox"}, headers=AUTH
    )
    inbox_id = (await response.json())["messages"][0]["id"]
    await save(client, draft(), replaces=inbox_id, status=404)
    response = await client.delete(f"/v1/accounts/{ALICE}/drafts/{inbox_id}", headers=AUTH)
    assert response.status == 404
    response = await client.get(f"/v1/accounts/{ALICE}/messages/{inbox_id}", headers=AUTH)
    assert response.status == 200


async def test_a_sent_draft_is_deleted(client: Client, people: None) -> None:
    saved = await save(client, draft())
    response = await client.delete(f"/v1/accounts/{ALICE}/drafts/{saved['id']}", headers=AUTH)
    assert response.status == 204
    assert await drafts_folder(client) == []


@pytest.mark.parametrize(
    "meta", ['{"replaces": "1"}', '{"replaces": true}', '{"replaces": -1}', "[]", "{"]
)
async def test_a_bad_meta_is_422(client: Client, people: None, meta: str) -> None:
    form = aiohttp.FormData()
    form.add_field("meta", meta, content_type="application/json")
    form.add_field("message", draft(), content_type="message/rfc822", filename="d.eml")
    response = await client.post(f"/v1/accounts/{ALICE}/drafts", data=form, headers=AUTH)
    assert response.status == 422
    assert await drafts_folder(client) == []
