"""Storage quotas (issue 16): sizes, usage counted once per account in the transaction
that changes it, and the refusals of APPEND, COPY and drafts, on real PostgreSQL."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from mailstore import db
from mailstore.db import imap_messages
from mailstore.main import create_app
from mailstore.quotas import parse_size, usage_of
from mailstore.settings import DEV_MAILSTORE_TOKEN, Config, ConfigError, load_config

Client = TestClient[web.Request, web.Application]
AUTH = {"Authorization": f"Bearer {DEV_MAILSTORE_TOKEN}"}
ALICE, BOB = "alice@localpost.test", "bob@localpost.test"


def mail(subject: str = "Hello", body: str = "Just saying hello.") -> bytes:
    return (
        f"From: Carol <carol@example.com>\r\nTo: {ALICE}\r\nSubject: {subject}\r\n"
        f"Message-ID: <{subject.replace(' ', '.')}@example.com>\r\n\r\n{body}\r\n"
    ).encode()


# -- sizes -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("0", 0),
        ("1048576", 1048576),
        ("512B", 512),
        ("500MiB", 500 * 1024**2),
        ("2GiB", 2 * 1024**3),
        ("2 gib", 2 * 1024**3),
        ("1TiB", 1024**4),
        ("3KiB", 3072),
        ("100MB", 100_000_000),
        ("1GB", 10**9),
        ("5kb", 5000),
    ],
)
def test_sizes_parse_in_binary_and_si_units(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize(
    "text",
    ["", "-1", "1.5GiB", "GiB", "10 parsecs", "1e9", "0x10", "\u0661\u0660", "99999999999TiB"],
)
def test_a_malformed_size_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"size|larger"):
        parse_size(text)


def test_a_bad_default_quota_stops_start_up_naming_the_variable() -> None:
    dev = {"LOCALPOST_DEV": "1"}
    with pytest.raises(ConfigError, match="LOCALPOST_DEFAULT_QUOTA"):
        load_config({**dev, "LOCALPOST_DEFAULT_QUOTA": "lots"})
    assert load_config(dev).default_quota == 0
    assert load_config({**dev, "LOCALPOST_DEFAULT_QUOTA": "2GiB"}).default_quota == 2 * 1024**3


def test_an_accounts_own_limit_wins_and_zero_is_no_limit() -> None:
    assert usage_of(used=5, own=None, default=0).limit is None
    assert usage_of(used=5, own=None, default=10).room == 5
    assert usage_of(used=5, own=0, default=10).limit is None
    full = usage_of(used=12, own=10, default=0)
    assert (full.full, full.room, full.fits(0)) == (True, 0, False)


# -- counting --------------------------------------------------------------------------------


@pytest.fixture
async def accounts(pool: Any) -> dict[str, int]:
    ids = {}
    for address in (ALICE, BOB):
        row = await db.create_account(pool, address=address, name="", password_hash="x")
        ids[address] = row["id"]
    return ids


async def used(pool: Any, account_id: int) -> int:
    return int((await db.get_quota(pool, account_id=account_id))["quota_used"])


async def size_of(pool: Any, gateway_id: str) -> int:
    return int(await pool.fetchval("SELECT size FROM messages WHERE id = $1", gateway_id))


async def test_a_message_to_two_accounts_counts_once_for_each(
    pool: Any, deliver: Any, accounts: dict[str, int]
) -> None:
    await deliver(mail(), rcpt_to=[ALICE, BOB], gateway_id="G1")
    size = await size_of(pool, "G1")

    assert await used(pool, accounts[ALICE]) == size
    assert await used(pool, accounts[BOB]) == size
    # A redelivery stores nothing and counts nothing.
    await deliver(mail(), rcpt_to=[ALICE, BOB], gateway_id="G1")
    assert await used(pool, accounts[ALICE]) == size


async def test_a_message_sent_to_oneself_counts_once(
    pool: Any, deliver: Any, accounts: dict[str, int]
) -> None:
    await deliver(mail(), rcpt_to=[ALICE], gateway_id="G1", submitted_by=ALICE)
    entries = await pool.fetchval("SELECT count(*) FROM mailbox_entries")

    assert entries == 2  # Sent and Inbox
    assert await used(pool, accounts[ALICE]) == await size_of(pool, "G1")


async def held_in_inbox_and_archive(pool: Any, deliver: Any, alice: int) -> int:
    """Deliver one message to Alice and COPY it to Archive; its size."""
    await deliver(mail(), rcpt_to=[ALICE], gateway_id="G1")
    await imap_messages.copy(
        pool, account_id=alice, name="INBOX", ranges=[(1, 1)], target="Archive", move=False
    )
    assert await pool.fetchval("SELECT count(*) FROM mailbox_entries") == 2
    return await size_of(pool, "G1")


async def test_a_copy_in_another_folder_counts_once_and_frees_with_its_last_entry(
    pool: Any, deliver: Any, accounts: dict[str, int]
) -> None:
    alice = accounts[ALICE]
    size = await held_in_inbox_and_archive(pool, deliver, alice)
    assert await used(pool, alice) == size

    inbox = await pool.fetchval("SELECT id FROM mailbox_entries WHERE folder_id = 'inbox'")
    await db.delete_forever(pool, account_id=alice, entry_id=inbox)
    assert await used(pool, alice) == size
    archived = await pool.fetchval("SELECT id FROM mailbox_entries")
    await db.delete_forever(pool, account_id=alice, entry_id=archived)
    assert await used(pool, alice) == 0


async def test_emptying_trash_frees_room_at_once_and_leaves_the_other_account(
    pool: Any, deliver: Any, accounts: dict[str, int]
) -> None:
    for n in range(3):
        await deliver(mail(f"m {n}"), rcpt_to=[ALICE, BOB], gateway_id=f"G{n}")
    total = sum([await size_of(pool, f"G{n}") for n in range(3)])
    ids = [
        row["id"]
        for row in await pool.fetch(
            "SELECT id FROM mailbox_entries WHERE account_id = $1", accounts[ALICE]
        )
    ]
    await db.move_many_to_trash(pool, account_id=accounts[ALICE], entry_ids=ids)
    assert await used(pool, accounts[ALICE]) == total  # Trash still holds them

    await db.empty_trash(pool, account_id=accounts[ALICE])

    assert await used(pool, accounts[ALICE]) == 0
    assert await used(pool, accounts[BOB]) == total


async def test_concurrent_copies_and_deletions_count_a_message_once(
    pool: Any, deliver: Any, accounts: dict[str, int]
) -> None:
    alice = accounts[ALICE]
    size = await held_in_inbox_and_archive(pool, deliver, alice)
    # Two more copies at once, into two folders: each transaction alone would see the
    # message as already held, and neither may count it again.
    await asyncio.gather(
        *(
            imap_messages.copy(
                pool, account_id=alice, name="Archive", ranges=[(1, 1)], target=t, move=False
            )
            for t in ("Junk", "Sent")
        )
    )
    assert await used(pool, alice) == size
    # Deleting all its entries at once, one transaction each: the last one frees it.
    ids = [row["id"] for row in await pool.fetch("SELECT id FROM mailbox_entries")]
    assert len(ids) == 4
    await asyncio.gather(
        *(db.delete_forever(pool, account_id=alice, entry_id=entry) for entry in ids)
    )
    assert await used(pool, alice) == 0


async def test_the_last_two_entries_deleted_at_once_free_the_message(
    pool: Any, deliver: Any, accounts: dict[str, int]
) -> None:
    """Two transactions each delete one of the message's last two entries: without the
    account lock each would still see the other's entry and neither would free it."""
    alice = accounts[ALICE]
    await held_in_inbox_and_archive(pool, deliver, alice)
    inbox, archived = (
        row["id"] for row in await pool.fetch("SELECT id FROM mailbox_entries ORDER BY id")
    )
    delete = "DELETE FROM mailbox_entries WHERE id = $1"
    async with pool.acquire() as first, pool.acquire() as second:
        outer = first.transaction()
        await outer.start()
        await first.execute(delete, inbox)

        async def other() -> None:
            async with second.transaction():
                await second.execute(delete, archived)

        racing = asyncio.create_task(other())
        await asyncio.sleep(0.3)
        # It waits for the first transaction's lock on the account's row.
        assert not racing.done()
        await outer.commit()
        await racing
    assert await used(pool, alice) == 0


# -- the API ---------------------------------------------------------------------------------


@pytest.fixture
async def small(config: Config, pool: Any) -> Any:
    """The API with LOCALPOST_DEFAULT_QUOTA at 1000 bytes, Alice and Bob registered."""
    app = create_app(
        dataclasses.replace(config, default_quota=1000), consume=False, maintenance=False
    )
    async with TestClient(TestServer(app)) as client:
        for address in (ALICE, BOB):
            body = {"address": address, "name": "", "password": "correct horse battery"}
            assert (await client.post("/v1/accounts", json=body, headers=AUTH)).status == 201
        yield client


async def quota(client: Client, address: str = ALICE) -> dict[str, Any]:
    response = await client.get(f"/v1/accounts/{address}/quota", headers=AUTH)
    assert response.status == 200
    body: dict[str, Any] = await response.json()
    return body


async def append(client: Client, folder: str, raw: bytes, status: int) -> Any:
    form = aiohttp.FormData()
    meta = {"folder": folder, "messages": [{"flags": []}]}
    form.add_field("meta", json.dumps(meta), content_type="application/json")
    form.add_field("message", raw, content_type="message/rfc822", filename="m.eml")
    response = await client.post(f"/v1/accounts/{ALICE}/imap/append", data=form, headers=AUTH)
    assert response.status == status, await response.text()
    return await response.json()


async def test_quota_is_reported_and_set_by_an_administrators_call(small: Client) -> None:
    assert await quota(small) == {"used": 0, "limit": 1000, "room": 1000, "full": False}

    path = f"/v1/accounts/{ALICE}/quota"
    response = await small.put(path, json={"quota": 5000}, headers=AUTH)
    assert response.status == 200
    assert (await response.json())["limit"] == 5000
    assert (await quota(small, BOB))["limit"] == 1000
    await small.put(path, json={"quota": 0}, headers=AUTH)
    assert (await quota(small))["limit"] is None
    await small.put(path, json={"quota": None}, headers=AUTH)
    assert (await quota(small))["limit"] == 1000
    # Each change is in the audit log, as an administrator's is, named for the token.
    audit = await small.get("/v1/admin/audit", headers=AUTH)
    assert [
        (e["actor"], e["action"], e["target"], e["detail"]) for e in (await audit.json())["entries"]
    ] == [
        ("api:service", "set_quota", ALICE, {"quota": None}),
        ("api:service", "set_quota", ALICE, {"quota": 0}),
        ("api:service", "set_quota", ALICE, {"quota": 5000}),
    ]


@pytest.mark.parametrize("body", [{}, {"quota": -1}, {"quota": "1GiB"}, {"quota": True}, [1]])
async def test_a_malformed_quota_setting_is_422(small: Client, body: Any) -> None:
    response = await small.put(f"/v1/accounts/{ALICE}/quota", json=body, headers=AUTH)
    assert response.status == 422
    assert (await quota(small))["limit"] == 1000


async def test_quota_of_an_unknown_account_is_404(small: Client) -> None:
    for method in ("GET", "PUT"):
        response = await small.request(
            method, "/v1/accounts/ghost@localpost.test/quota", json={"quota": 1}, headers=AUTH
        )
        assert response.status == 404


async def test_an_append_past_the_quota_is_refused_with_code_overquota_and_a_copy_is_not(
    small: Client,
) -> None:
    await append(small, "INBOX", mail(body="x" * 500), 200)
    before = await quota(small)

    refused = await append(small, "INBOX", mail("Two", body="y" * 600), 409)
    assert refused["code"] == "overquota"
    assert await quota(small) == before  # nothing of it was stored

    # A COPY adds nothing (the account holds the message already), so it is allowed
    # even over the quota.
    await small.put(f"/v1/accounts/{ALICE}/quota", json={"quota": 10}, headers=AUTH)
    body = {"folder": "INBOX", "uids": "1", "target": "Archive"}
    response = await small.post(f"/v1/accounts/{ALICE}/imap/copy", json=body, headers=AUTH)
    assert response.status == 200
    assert (await quota(small))["used"] == before["used"]


async def test_the_recipient_check_reports_a_full_mailbox_and_the_room_left(
    small: Client,
) -> None:
    response = await small.get(f"/v1/recipients/{ALICE}", headers=AUTH)
    assert await response.json() == {
        "address": ALICE,
        "disabled": False,
        "sender_refused": False,
        "full": False,
        "room": 1000,
    }
    await append(small, "INBOX", mail(body="x" * 500), 200)
    await small.put(f"/v1/accounts/{ALICE}/quota", json={"quota": 100}, headers=AUTH)

    full = await (await small.get(f"/v1/recipients/{ALICE}", headers=AUTH)).json()
    assert (full["full"], full["room"]) == (True, 0)
