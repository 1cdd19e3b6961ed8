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


def mail(subject: str) -> bytes:
    return (
        f"From: Carol <carol@example.com>\r\nTo: {ALICE}\r\nSubject: {subject}\r\n\r\nHello\r\n"
    ).encode()


@pytest.fixture
async def mailboxes(pool: Any, deliver: Any) -> dict[str, int]:
    """Alice: three Inbox messages and one in Sent; Bob: one Inbox message shared with her."""
    for address in (ALICE, BOB):
        await db.create_account(pool, address=address, name="", password_hash="x")
    ids = {}
    for subject in ("one", "two", "three"):
        ids[subject] = (await deliver(mail(subject), rcpt_to=[ALICE])).entries[0].id
    sent = await deliver(mail("mine"), rcpt_to=[BOB], submitted_by=ALICE)
    ids["sent"] = next(e.id for e in sent.entries if e.folder == "sent")
    ids["bob"] = next(e.id for e in sent.entries if e.folder == "inbox")
    return ids


async def bulk(client: Client, action: str, ids: list[Any], address: str = ALICE) -> int:
    response = await client.post(
        f"/v1/accounts/{address}/messages/bulk", json={"action": action, "ids": ids}, headers=AUTH
    )
    assert response.status == 200, await response.text()
    changed: int = (await response.json())["changed"]
    return changed


async def state(pool: Any) -> dict[int, tuple[str, bool]]:
    rows = await pool.fetch("SELECT id, folder_id, seen FROM mailbox_entries")
    return {row["id"]: (row["folder_id"], row["seen"]) for row in rows}


async def test_bulk_read_and_unread_count_only_what_changed(
    client: Client, mailboxes: dict[str, int], pool: Any
) -> None:
    one, two, three = mailboxes["one"], mailboxes["two"], mailboxes["three"]

    assert await bulk(client, "read", [one, two]) == 2
    assert await bulk(client, "read", [one, two, three]) == 1
    assert await bulk(client, "unread", [two, two, three]) == 2

    entries = await state(pool)
    assert [entries[i][1] for i in (one, two, three)] == [True, False, False]


async def test_bulk_trash_and_restore_return_each_to_its_folder(
    client: Client, mailboxes: dict[str, int], pool: Any
) -> None:
    chosen = [mailboxes["one"], mailboxes["sent"]]

    assert await bulk(client, "trash", chosen) == 2
    assert await bulk(client, "trash", [*chosen, mailboxes["two"]]) == 1
    assert await bulk(client, "restore", [mailboxes["one"], mailboxes["three"]]) == 1
    trashed_at = await pool.fetchval(
        "SELECT trashed_at FROM mailbox_entries WHERE id = $1", mailboxes["sent"]
    )
    assert await bulk(client, "restore", [mailboxes["sent"], mailboxes["two"]]) == 2

    entries = await state(pool)
    assert entries[mailboxes["one"]][0] == "inbox"
    assert entries[mailboxes["sent"]][0] == "sent"
    assert entries[mailboxes["two"]][0] == "inbox"
    assert trashed_at is not None


async def test_bulk_trash_names_only_the_entries_it_moved(
    client: Client, mailboxes: dict[str, int]
) -> None:
    one, two = mailboxes["one"], mailboxes["two"]
    await bulk(client, "trash", [one])

    response = await client.post(
        f"/v1/accounts/{ALICE}/messages/bulk",
        json={"action": "trash", "ids": [two, one, mailboxes["bob"]]},
        headers=AUTH,
    )

    # "one" was in Trash already and Bob's is not Alice's: an undo must restore only "two".
    assert await response.json() == {"changed": 1, "ids": [two]}


async def test_trash_listing_says_after_how_many_days_it_purges(
    client: Client, mailboxes: dict[str, int]
) -> None:
    pages = {}
    for folder in ("trash", "inbox"):
        response = await client.get(
            f"/v1/accounts/{ALICE}/messages", params={"folder": folder}, headers=AUTH
        )
        pages[folder] = await response.json()

    assert pages["trash"]["purge_days"] == 30  # MAILSTORE_TRASH_DAYS' default
    assert pages["inbox"]["purge_days"] is None


async def test_bulk_delete_deletes_forever_and_keeps_messages_others_hold(
    client: Client, mailboxes: dict[str, int], pool: Any
) -> None:
    chosen = [mailboxes["one"], mailboxes["sent"]]

    assert await bulk(client, "delete", chosen) == 2
    assert await bulk(client, "delete", chosen) == 0

    entries = await state(pool)
    assert set(entries) == {mailboxes["two"], mailboxes["three"], mailboxes["bob"]}
    # "one" was only Alice's; "mine" is still in Bob's Inbox.
    assert await pool.fetchval("SELECT count(*) FROM messages") == 3


async def test_bulk_ignores_ids_outside_the_account(
    client: Client, mailboxes: dict[str, int], pool: Any
) -> None:
    before = await state(pool)
    foreign = [mailboxes["bob"], mailboxes["bob"] + 1000, -1, 2**63, 10**30]

    for action in ("read", "trash", "delete"):
        assert await bulk(client, action, foreign) == 0
    assert await bulk(client, "read", [*foreign, mailboxes["one"]]) == 1

    after = await state(pool)
    assert after[mailboxes["bob"]] == before[mailboxes["bob"]]
    assert await pool.fetchval("SELECT count(*) FROM messages") == 4


async def test_bulk_with_no_ids_changes_nothing(client: Client, mailboxes: dict[str, int]) -> None:
    assert await bulk(client, "delete", []) == 0


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, {"action", "ids"}),
        ({"action": "archive", "ids": [1]}, {"action"}),
        ({"action": "read", "ids": 1}, {"ids"}),
        ({"action": "read", "ids": ["1"]}, {"ids"}),
        ({"action": "read", "ids": [True]}, {"ids"}),
        ({"action": "read", "ids": [1.5]}, {"ids"}),
        ({"action": "read", "ids": list(range(1001))}, {"ids"}),
        ({"action": None, "ids": None}, {"action", "ids"}),
    ],
)
async def test_bulk_field_errors_are_422(
    client: Client, mailboxes: dict[str, int], body: dict[str, Any], fields: set[str]
) -> None:
    response = await client.post(f"/v1/accounts/{ALICE}/messages/bulk", json=body, headers=AUTH)

    assert response.status == 422
    assert set((await response.json())["fields"]) == fields


async def test_bulk_of_1000_ids_is_accepted(client: Client, mailboxes: dict[str, int]) -> None:
    unknown = range(10**6, 10**6 + 999)

    assert await bulk(client, "read", [*unknown, mailboxes["one"]]) == 1


async def test_empty_trash_deletes_only_this_accounts_trash(
    client: Client, mailboxes: dict[str, int], pool: Any
) -> None:
    await bulk(client, "trash", [mailboxes["one"], mailboxes["sent"]])
    await bulk(client, "trash", [mailboxes["bob"]], address=BOB)

    response = await client.post(f"/v1/accounts/{ALICE}/trash/empty", headers=AUTH)
    again = await client.post(f"/v1/accounts/{ALICE}/trash/empty", headers=AUTH)

    assert response.status == 200
    assert await response.json() == {"deleted": 2}
    assert await again.json() == {"deleted": 0}
    entries = await state(pool)
    assert set(entries) == {mailboxes["two"], mailboxes["three"], mailboxes["bob"]}
    assert entries[mailboxes["bob"]][0] == "trash"
    assert await pool.fetchval("SELECT count(*) FROM messages") == 3


async def test_bulk_and_empty_trash_of_a_missing_account_are_404(client: Client) -> None:
    base = "/v1/accounts/nobody@localpost.test"
    bulk_response = await client.post(
        f"{base}/messages/bulk", json={"action": "read", "ids": [1]}, headers=AUTH
    )
    empty = await client.post(f"{base}/trash/empty", headers=AUTH)

    assert (bulk_response.status, empty.status) == (404, 404)
