"""The web's folder calls: every folder listed, user folders by id, moves and flags."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from mailstore import db
from mailstore.settings import DEV_MAILSTORE_TOKEN

Client = TestClient[web.Request, web.Application]
AUTH = {"Authorization": f"Bearer {DEV_MAILSTORE_TOKEN}"}
ALICE, BOB = "alice@localpost.test", "bob@localpost.test"
BASE = f"/v1/accounts/{ALICE}"


def mail(subject: str = "hello") -> bytes:
    return (
        f"From: Carol <carol@example.com>\r\nTo: {ALICE}\r\nSubject: {subject}\r\n\r\nHi\r\n"
    ).encode()


@pytest.fixture
async def alice_and_bob(pool: Any) -> None:
    for address in (ALICE, BOB):
        await db.create_account(pool, address=address, name="", password_hash="x")


async def inbox_ids(client: Client, folder: str = "inbox") -> list[int]:
    response = await client.get(
        f"{BASE}/messages", params={"folder": folder, "limit": "200"}, headers=AUTH
    )
    assert response.status == 200
    return [item["id"] for item in (await response.json())["messages"]]


async def folders(client: Client, address: str = ALICE) -> list[dict[str, Any]]:
    response = await client.get(f"/v1/accounts/{address}/folders", headers=AUTH)
    assert response.status == 200
    listed: list[dict[str, Any]] = (await response.json())["folders"]
    return listed


async def create(client: Client, name: str, address: str = ALICE) -> Any:
    return await client.post(f"/v1/accounts/{address}/folders", json={"name": name}, headers=AUTH)


async def test_folders_list_the_standard_six_in_order_then_user_folders_by_name(
    client: Client, alice_and_bob: None
) -> None:
    for name in ("Zeta", "Alpha/Beta"):
        assert (await create(client, name)).status == 201

    listed = await folders(client)

    assert [f["name"] for f in listed] == [
        "INBOX", "Sent", "Drafts", "Trash", "Junk", "Archive", "Alpha", "Alpha/Beta", "Zeta",
    ]  # fmt: skip
    assert listed[0] == {
        "id": "inbox",
        "name": "INBOX",
        "special_use": None,
        "unread": 0,
        "total": 0,
    }
    assert all(f["id"].startswith("f") for f in listed[6:])


async def test_a_folder_made_in_the_web_is_subscribed_with_its_parents(
    client: Client, alice_and_bob: None
) -> None:
    """Mail programs that list subscribed folders only (Thunderbird's default) must show a
    folder made in the web; IMAP's CREATE alone subscribes nothing (test_imap_api)."""
    assert (await create(client, "Work/Clients")).status == 201
    response = await client.get(f"{BASE}/imap/subscriptions", headers=AUTH)

    assert {"Work", "Work/Clients"} <= set((await response.json())["names"])


async def test_creating_a_taken_name_is_409_and_a_bad_name_422(
    client: Client, alice_and_bob: None
) -> None:
    assert (await create(client, "Work")).status == 201
    taken = await create(client, "Work")
    assert taken.status == 409
    assert (await taken.json())["code"] == "alreadyexists"
    for bad in ("", "a\x01b", "a//b", "/a", "x" * 501, "a*"):
        assert (await create(client, bad)).status == 422, bad


async def test_a_user_folder_lists_moved_mail_and_another_accounts_folder_is_404(
    client: Client, alice_and_bob: None, deliver: Any
) -> None:
    entry = (await deliver(mail(subject="keep"), rcpt_to=[ALICE])).entries[0].id
    work = (await (await create(client, "Work")).json())["id"]
    bobs = (await (await create(client, "Private", BOB)).json())["id"]

    moved = await client.post(f"{BASE}/messages/{entry}/move", json={"folder": work}, headers=AUTH)

    assert moved.status == 200
    assert (await moved.json())["folder"] == work
    assert await inbox_ids(client, folder=work) == [entry]
    assert await inbox_ids(client) == []
    for other in (bobs, "nosuch"):
        listing = await client.get(f"{BASE}/messages", params={"folder": other}, headers=AUTH)
        assert listing.status == 404
        into = await client.post(
            f"{BASE}/messages/{entry}/move", json={"folder": other}, headers=AUTH
        )
        assert into.status == 404
    assert await inbox_ids(client, folder=work) == [entry]
    bad = await client.get(f"{BASE}/messages", params={"folder": "../inbox"}, headers=AUTH)
    assert bad.status == 422


async def test_moving_to_trash_remembers_the_folder_a_restore_returns_to(
    client: Client, alice_and_bob: None, deliver: Any
) -> None:
    entry = (await deliver(mail(), rcpt_to=[ALICE])).entries[0].id
    work = (await (await create(client, "Work")).json())["id"]
    await client.post(f"{BASE}/messages/{entry}/move", json={"folder": work}, headers=AUTH)
    await client.post(f"{BASE}/messages/{entry}/trash", headers=AUTH)

    restored = await client.post(f"{BASE}/messages/{entry}/restore", headers=AUTH)

    assert (await restored.json())["folder"] == work


async def test_flags_are_set_one_by_one_and_shown_in_listings(
    client: Client, alice_and_bob: None, deliver: Any, pool: Any
) -> None:
    entry = (await deliver(mail(), rcpt_to=[ALICE])).entries[0].id
    url = f"{BASE}/messages/{entry}"

    for flags in ({"flagged": True}, {"answered": True}, {"forwarded": True}):
        assert (await client.patch(url, json=flags, headers=AUTH)).status == 200
    summary = await (await client.get(url, headers=AUTH)).json()
    row = await pool.fetchrow(
        "SELECT flagged, answered, keywords FROM mailbox_entries WHERE id = $1", entry
    )

    assert (summary["flagged"], summary["answered"], summary["forwarded"]) == (True, True, True)
    assert (row["flagged"], row["answered"], row["keywords"]) == (True, True, ["$Forwarded"])
    await client.patch(url, json={"forwarded": True, "flagged": False}, headers=AUTH)
    after = await pool.fetchrow(
        "SELECT flagged, keywords FROM mailbox_entries WHERE id = $1", entry
    )
    assert (after["flagged"], after["keywords"]) == (False, ["$Forwarded"])
    for bad in ({}, {"flagged": "yes"}, {"deleted": True}):
        assert (await client.patch(url, json=bad, headers=AUTH)).status == 422


async def test_starred_lists_flagged_mail_outside_trash(
    client: Client, alice_and_bob: None, deliver: Any
) -> None:
    ids = [(await deliver(mail(), rcpt_to=[ALICE])).entries[0].id for _ in range(3)]
    bulk = {"ids": ids[:2], "action": "star"}
    starred = await client.post(f"{BASE}/messages/bulk", json=bulk, headers=AUTH)
    assert (await starred.json())["changed"] == 2
    await client.post(f"{BASE}/messages/{ids[1]}/trash", headers=AUTH)

    listing = await (await client.get(f"{BASE}/starred", headers=AUTH)).json()

    assert [m["id"] for m in listing["messages"]] == [ids[0]]


async def test_bulk_move_needs_a_folder_of_the_account(
    client: Client, alice_and_bob: None, deliver: Any
) -> None:
    ids = [(await deliver(mail(), rcpt_to=[ALICE])).entries[0].id for _ in range(2)]
    work = (await (await create(client, "Work")).json())["id"]
    url = f"{BASE}/messages/bulk"

    missing = await client.post(url, json={"ids": ids, "action": "move"}, headers=AUTH)
    unknown = await client.post(
        url, json={"ids": ids, "action": "move", "folder": "f999999"}, headers=AUTH
    )
    moved = await client.post(
        url, json={"ids": ids, "action": "move", "folder": work}, headers=AUTH
    )

    assert (missing.status, unknown.status) == (422, 404)
    assert (await moved.json())["changed"] == 2
    assert sorted(await inbox_ids(client, folder=work)) == sorted(ids)


async def test_rename_and_delete_by_id_spare_standard_folders_and_refuse_a_full_one(
    client: Client, alice_and_bob: None, deliver: Any
) -> None:
    work = (await (await create(client, "Work")).json())["id"]
    renamed = await client.patch(f"{BASE}/folders/{work}", json={"name": "Jobs"}, headers=AUTH)
    assert renamed.status == 204
    assert "Jobs" in [f["name"] for f in await folders(client)]
    for standard in ("inbox", "trash"):
        refused = await client.delete(f"{BASE}/folders/{standard}", headers=AUTH)
        assert (refused.status, (await refused.json())["code"]) == (409, "cannot")
        refused = await client.patch(f"{BASE}/folders/{standard}", json={"name": "X"}, headers=AUTH)
        assert refused.status == 409
    entry = (await deliver(mail(), rcpt_to=[ALICE])).entries[0].id
    await client.post(f"{BASE}/messages/{entry}/move", json={"folder": work}, headers=AUTH)

    full = await client.delete(f"{BASE}/folders/{work}", headers=AUTH)

    assert (full.status, (await full.json())["code"]) == (409, "inuse")
    assert await inbox_ids(client, folder=work) == [entry]
    await client.post(f"{BASE}/messages/{entry}/trash", headers=AUTH)
    assert (await client.delete(f"{BASE}/folders/{work}", headers=AUTH)).status == 204
    assert (await client.delete(f"{BASE}/folders/{work}", headers=AUTH)).status == 404
    # Its Trash entry now restores to INBOX (db.imap_folders.delete_folder).
    restored = await client.post(f"{BASE}/messages/{entry}/restore", headers=AUTH)
    assert (await restored.json())["folder"] == "inbox"
