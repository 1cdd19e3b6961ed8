"""Conversations (migration 0018): labels set at delivery, merged when a parent arrives
after its children, a folder listed one row per conversation, a conversation opened,
bulk actions on conversation rows, the old entries labelled by the maintenance task."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from mailstore import db, maintenance
from mailstore.settings import DEV_MAILSTORE_TOKEN

Client = TestClient[web.Request, web.Application]
AUTH = {"Authorization": f"Bearer {DEV_MAILSTORE_TOKEN}"}
ALICE, BOB = "alice@localpost.test", "bob@localpost.test"


def mail(msgid: str | None, *, refs: str = "", reply_to: str = "", subject: str = "Plans") -> bytes:
    headers = ["From: Carol <carol@example.com>", f"To: {ALICE}", f"Subject: {subject}"]
    if msgid is not None:
        headers.append(f"Message-ID: {msgid}")
    if refs:
        headers.append(f"References: {refs}")
    if reply_to:
        headers.append(f"In-Reply-To: {reply_to}")
    return ("\r\n".join(headers) + "\r\n\r\nHello\r\n").encode()


@pytest.fixture
async def accounts(pool: Any) -> None:
    for address in (ALICE, BOB):
        await db.create_account(pool, address=address, name="", password_hash="x")


@pytest.fixture
def arrive(deliver: Any) -> Any:
    """Deliver to Alice (and whoever else is named); her entry's id."""

    async def arrive(raw: bytes, rcpt_to: list[str] | None = None) -> int:
        outcome = await deliver(raw, rcpt_to=rcpt_to or [ALICE])
        return int(next(e.id for e in outcome.entries if e.address == ALICE))

    return arrive


async def labels(pool: Any, address: str = ALICE) -> list[str | None]:
    """The conversation of each of the account's entries, in arrival order."""
    rows = await pool.fetch(
        """
        SELECT e.conversation FROM mailbox_entries e JOIN accounts a ON a.id = e.account_id
        WHERE a.address = $1 ORDER BY e.id
        """,
        address,
    )
    return [row["conversation"] for row in rows]


async def test_replies_in_order_share_the_root(accounts: None, arrive: Any, pool: Any) -> None:
    await arrive(mail("<a@x>"))
    await arrive(mail("<b@x>", refs="<a@x>", reply_to="<a@x>"))
    await arrive(mail("<c@x>", refs="<a@x> <b@x>", reply_to="<b@x>"))
    await arrive(mail("<other@x>", subject="Plans"))  # same subject, no reference

    assert await labels(pool) == ["<a@x>", "<a@x>", "<a@x>", "<other@x>"]


async def test_a_reply_naming_only_its_parent_joins_the_parents_root(
    accounts: None, arrive: Any, pool: Any
) -> None:
    await arrive(mail("<a@x>"))
    await arrive(mail("<b@x>", refs="<a@x>"))
    await arrive(mail("<c@x>", reply_to="<b@x>"))  # no References (old clients)

    assert await labels(pool) == ["<a@x>"] * 3


async def test_children_first_are_reparented_when_the_parents_arrive(
    accounts: None, arrive: Any, pool: Any
) -> None:
    await arrive(mail("<d@x>", reply_to="<c@x>"))
    await arrive(mail("<c@x>", reply_to="<b@x>"))
    assert await labels(pool) == ["<b@x>", "<b@x>"]
    await arrive(mail("<b@x>", refs="<a@x>"))
    assert await labels(pool) == ["<a@x>"] * 3
    await arrive(mail("<a@x>"))

    assert await labels(pool) == ["<a@x>"] * 4


async def test_two_branches_waiting_under_different_parents_merge(
    accounts: None, arrive: Any, pool: Any
) -> None:
    await arrive(mail("<left@x>", reply_to="<p1@x>"))
    await arrive(mail("<right@x>", reply_to="<p2@x>"))
    assert len(set(await labels(pool))) == 2
    # The message that names both parents joins them into one.
    await arrive(mail("<both@x>", refs="<root@x> <p1@x> <p2@x>"))

    assert await labels(pool) == ["<root@x>"] * 3


async def test_missing_parents_group_by_the_root_they_name(
    accounts: None, arrive: Any, pool: Any
) -> None:
    await arrive(mail("<b@x>", refs="<gone@x>"))
    await arrive(mail("<c@x>", refs="<gone@x> <b@x>"))

    assert await labels(pool) == ["<gone@x>", "<gone@x>"]


async def test_references_in_a_loop_end_in_one_conversation(
    accounts: None, arrive: Any, pool: Any
) -> None:
    await arrive(mail("<a@x>", refs="<b@x>"))
    await arrive(mail("<b@x>", refs="<a@x>"))
    await arrive(mail("<c@x>", refs="<c@x> <a@x> <c@x>", reply_to="<c@x>"))

    assert len(set(await labels(pool))) == 1


async def test_a_huge_references_field_is_stored_and_read_at_its_ends(
    accounts: None, arrive: Any, pool: Any
) -> None:
    await arrive(mail("<a@x>"))
    middle = " ".join(f"<m{i}@x>" for i in range(20_000))
    entry = await arrive(mail("<z@x>", refs=f"<a@x> {middle} <y@x>"))

    assert await labels(pool) == ["<a@x>", "<a@x>"]
    assert entry > 0


async def test_hostile_message_ids_never_stop_a_delivery(
    accounts: None, arrive: Any, pool: Any
) -> None:
    long_id = "<" + "x" * 10_000 + "@x>"
    await arrive(mail(long_id))
    await arrive(mail(long_id))
    await arrive(mail("<<<>>> <> < spaced @x>", refs="<" + "y" * 300 + "@x>"))
    await arrive(mail(None))

    assert await labels(pool) == [None, None, None, None]


async def test_a_reused_message_id_joins_but_stays_within_the_account(
    accounts: None, arrive: Any, pool: Any
) -> None:
    await arrive(mail("<dup@x>", subject="first"))
    await arrive(mail("<dup@x>", subject="second"), rcpt_to=[ALICE, BOB])
    await arrive(mail("<r@x>", reply_to="<dup@x>"))

    assert await labels(pool) == ["<dup@x>"] * 3
    assert await labels(pool, BOB) == ["<dup@x>"]


async def list_conversations(client: Client, folder: str = "inbox", **query: str) -> Any:
    response = await client.get(
        f"/v1/accounts/{ALICE}/messages",
        params={"folder": folder, "conversations": "true", **query},
        headers=AUTH,
    )
    assert response.status == 200, await response.text()
    return await response.json()


async def test_the_listing_shows_one_row_per_conversation_newest_first(
    accounts: None, arrive: Any, client: Client
) -> None:
    a = await arrive(mail("<a@x>"))
    await arrive(mail("<lone@x>", subject="Lunch"))
    c = await arrive(mail("<c@x>", refs="<a@x>"))
    await client.patch(f"/v1/accounts/{ALICE}/messages/{a}", json={"flagged": True}, headers=AUTH)
    await client.patch(f"/v1/accounts/{ALICE}/messages/{c}", json={"read": True}, headers=AUTH)

    listing = await list_conversations(client)

    rows = listing["messages"]
    assert [row["id"] for row in rows] == [c, c - 1]
    assert rows[0]["conversation"]["messages"] == 2
    assert rows[0]["conversation"]["unread"] is True  # a is unread, c read
    assert rows[0]["conversation"]["flagged"] is True  # a is starred
    assert rows[1]["conversation"]["messages"] == 1
    assert listing["total"] == 2


async def test_conversation_pages_follow_the_heads(
    accounts: None, arrive: Any, client: Client
) -> None:
    for n in range(5):
        await arrive(mail(f"<t{n}@x>"))
        await arrive(mail(f"<t{n}r@x>", refs=f"<t{n}@x>"))

    first = await list_conversations(client, limit="2")
    second = await list_conversations(client, limit="2", cursor=first["next_cursor"])
    third = await list_conversations(client, limit="2", cursor=second["next_cursor"])

    subjects = [row["id"] for page in (first, second, third) for row in page["messages"]]
    assert len(subjects) == len(set(subjects)) == 5
    assert (first["total"], second["offset"], third["offset"]) == (5, 2, 4)
    assert third["next_cursor"] is None
    assert third["prev_cursor"] == first["next_cursor"]


async def test_a_conversation_opens_with_the_replies_from_sent(
    accounts: None, arrive: Any, deliver: Any, client: Client
) -> None:
    a = await arrive(mail("<a@x>"))
    reply = mail("<mine@x>", refs="<a@x>").replace(b"From: Carol", b"From: Alice")
    await deliver(reply, rcpt_to=[BOB], submitted_by=ALICE)
    later = await arrive(mail("<c@x>", refs="<a@x> <mine@x>"))

    response = await client.get(f"/v1/accounts/{ALICE}/messages/{later}/conversation", headers=AUTH)
    opened = (await response.json())["messages"]

    assert [m["folder"] for m in opened] == ["inbox", "sent", "inbox"]
    assert opened[0]["id"] == a
    other = await client.get(f"/v1/accounts/{BOB}/messages/{later}/conversation", headers=AUTH)
    assert other.status == 404


async def test_a_bulk_action_on_conversation_rows_takes_their_folder_only(
    accounts: None, arrive: Any, deliver: Any, client: Client, pool: Any
) -> None:
    await arrive(mail("<a@x>"))
    head = await arrive(mail("<b@x>", refs="<a@x>"))
    reply = mail("<mine@x>", refs="<a@x>").replace(b"From: Carol", b"From: Alice")
    await deliver(reply, rcpt_to=[BOB], submitted_by=ALICE)

    response = await client.post(
        f"/v1/accounts/{ALICE}/messages/bulk",
        json={"action": "trash", "ids": [head], "conversations": True},
        headers=AUTH,
    )

    assert (await response.json())["changed"] == 2
    folders = await pool.fetch(
        "SELECT folder_id FROM mailbox_entries e JOIN accounts a ON a.id = e.account_id"
        " WHERE a.address = $1 ORDER BY e.id",
        ALICE,
    )
    assert [row["folder_id"] for row in folders] == ["trash", "trash", "sent"]


@pytest.mark.parametrize("value", ["yes", "1", ""])
async def test_a_bad_conversations_parameter_is_a_422(
    accounts: None, client: Client, value: str
) -> None:
    response = await client.get(
        f"/v1/accounts/{ALICE}/messages", params={"conversations": value}, headers=AUTH
    )
    assert response.status == 422


async def test_the_maintenance_task_labels_entries_from_before_conversations(
    accounts: None, arrive: Any, pool: Any
) -> None:
    await arrive(mail("<c@x>", reply_to="<b@x>"))
    await arrive(mail("<a@x>"))
    await arrive(mail("<b@x>", refs="<a@x>"))
    # As the migration leaves a store that had mail: no labels, the indexes to build.
    await pool.execute("UPDATE mailbox_entries SET conversation = NULL")
    await pool.execute("INSERT INTO conversation_backfill DEFAULT VALUES")
    try:
        # Until the indexes are built, new entries wait for the backfill too.
        await arrive(mail("<d@x>", refs="<a@x>"))
        assert await labels(pool) == [None] * 4

        assert await maintenance.label_old_entries(pool) == 4

        assert await labels(pool) == ["<a@x>"] * 4
        assert await pool.fetchval("SELECT count(*) FROM conversation_backfill") == 0
    finally:
        await pool.execute("DELETE FROM conversation_backfill")


async def test_the_setting_is_on_by_default_and_can_be_turned_off(
    accounts: None, client: Client
) -> None:
    path = f"/v1/accounts/{ALICE}/profile"
    assert (await (await client.get(path, headers=AUTH)).json())["conversations"] is True

    changed = await client.patch(path, json={"conversations": False}, headers=AUTH)
    bad = await client.patch(path, json={"conversations": "off"}, headers=AUTH)

    assert (await changed.json())["conversations"] is False
    assert bad.status == 422
    assert (await (await client.get(path, headers=AUTH)).json())["conversations"] is False


async def test_messages_without_a_message_id_are_a_conversation_each(
    accounts: None, arrive: Any, client: Client
) -> None:
    await arrive(mail("<a@x>"))
    await arrive(mail(None))
    await arrive(mail("<b@x>", refs="<a@x>"))
    await arrive(mail(None))

    first = await list_conversations(client, limit="2")
    second = await list_conversations(client, limit="2", cursor=first["next_cursor"])

    assert [row["conversation"]["messages"] for row in first["messages"]] == [1, 2]
    assert [row["conversation"]["messages"] for row in second["messages"]] == [1]
    assert (first["total"], second["offset"]) == (3, 2)
