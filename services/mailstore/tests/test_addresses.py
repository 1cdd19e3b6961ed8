"""Issue 16's address kinds where mail is stored: subaddresses, aliases, role addresses.

Each account reached gets one entry per message, with a Delivered-To naming the
recipient that reached it when that was not the account's own address; the gateway's
RCPT check (``/v1/recipients``) says yes to every kind and the same 404 to the rest.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from mailstore import db
from mailstore.errors import AddressTaken, AliasRefused
from mailstore.imap_structure import describe
from mailstore.parsing import parse_message
from mailstore.settings import DEV_MAILSTORE_TOKEN

Client = TestClient[web.Request, web.Application]
AUTH = {"Authorization": f"Bearer {DEV_MAILSTORE_TOKEN}"}
ALICE, BOB, CAROL = "alice@localpost.test", "bob@localpost.test", "carol@localpost.test"
INFO = "info@localpost.test"
RAW = (
    b"From: Dave <dave@example.com>\r\nTo: info@localpost.test\r\nSubject: Hi\r\n"
    b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
    b"--b\r\nContent-Type: text/plain\r\n\r\nHello\r\n"
    b'--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename="r.pdf"'
    b"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n--b--\r\n"
)


async def make_account(pool: Any, address: str) -> int:
    row = await db.create_account(pool, address=address, name="", password_hash="x")
    account_id: int = row["id"]
    return account_id


@pytest.fixture
async def people(pool: Any) -> dict[str, int]:
    return {address: await make_account(pool, address) for address in (ALICE, BOB, CAROL)}


async def raw_of(pool: Any, entry: db.NewEntry) -> bytes:
    account = await db.get_account(pool, address=entry.address)
    raw = await db.get_raw(pool, account_id=account["id"], entry_id=entry.id)
    assert raw is not None
    return bytes(raw)


async def entry_counts(pool: Any) -> dict[str, int]:
    rows = await pool.fetch(
        "SELECT a.address, count(*) AS n FROM mailbox_entries e"
        " JOIN accounts a ON a.id = e.account_id GROUP BY a.address"
    )
    return {row["address"]: row["n"] for row in rows}


# -- subaddressing (RFC 5233) -----------------------------------------------------------------


async def test_a_subaddress_is_filed_in_the_accounts_inbox_with_delivered_to(
    pool: Any, people: dict[str, int], deliver: Any
) -> None:
    outcome = await deliver(RAW, rcpt_to=["alice+lists@localpost.test"])

    (entry,) = outcome.entries
    assert (entry.address, entry.folder) == (ALICE, "inbox")
    assert outcome.without_account == []
    raw = await raw_of(pool, entry)
    assert raw == b"Delivered-To: alice+lists@localpost.test\r\n" + RAW
    # The copy is a whole message: its size, structure (offsets moved) and attachment.
    row = await pool.fetchrow(
        "SELECT m.id, m.size, m.imap_structure FROM mailbox_entries e"
        " JOIN messages m ON m.id = e.message_id WHERE e.id = $1",
        entry.id,
    )
    assert row["size"] == len(raw)
    assert row["imap_structure"] == describe(raw)
    assert len(await db.list_attachments(pool, gateway_id=row["id"])) == 1


async def test_own_address_gets_no_delivered_to_and_shares_the_stored_message(
    pool: Any, people: dict[str, int], deliver: Any
) -> None:
    outcome = await deliver(RAW, rcpt_to=[ALICE, BOB])

    assert sorted(e.address for e in outcome.entries) == [ALICE, BOB]
    for entry in outcome.entries:
        assert await raw_of(pool, entry) == RAW
    assert await pool.fetchval("SELECT count(*) FROM messages") == 1


async def test_an_account_with_a_plus_in_its_name_is_reached_exactly(
    pool: Any, people: dict[str, int], deliver: Any
) -> None:
    # Registered before "+" was refused in new addresses (or made by an operator).
    await make_account(pool, "alice+work@localpost.test")

    exact = await deliver(RAW, rcpt_to=["alice+work@localpost.test"])
    detail = await deliver(RAW, rcpt_to=["alice+work+x@localpost.test"])
    other = await deliver(RAW, rcpt_to=["alice+home@localpost.test"])

    assert [(e.address, e.folder) for e in exact.entries] == [
        ("alice+work@localpost.test", "inbox")
    ]
    assert await raw_of(pool, exact.entries[0]) == RAW
    assert [e.address for e in detail.entries] == ["alice+work@localpost.test"]
    assert [e.address for e in other.entries] == [ALICE]


async def test_sending_to_ones_own_subaddress_makes_a_sent_and_an_inbox_entry(
    pool: Any, people: dict[str, int], deliver: Any
) -> None:
    outcome = await deliver(RAW, rcpt_to=["alice+me@localpost.test"], submitted_by=ALICE)

    assert sorted((e.address, e.folder) for e in outcome.entries) == [
        (ALICE, "inbox"),
        (ALICE, "sent"),
    ]
    by_folder = {e.folder: e for e in outcome.entries}
    assert await raw_of(pool, by_folder["sent"]) == RAW
    assert (await raw_of(pool, by_folder["inbox"])).startswith(b"Delivered-To: alice+me@")


# -- aliases ----------------------------------------------------------------------------------


async def test_an_alias_reaches_each_account_once_with_delivered_to(
    pool: Any, people: dict[str, int], deliver: Any
) -> None:
    await db.add_alias(pool, address=INFO, targets=[ALICE, BOB])

    outcome = await deliver(RAW, rcpt_to=[INFO])

    assert sorted(e.address for e in outcome.entries) == [ALICE, BOB]
    for entry in outcome.entries:
        assert (await raw_of(pool, entry)).startswith(b"Delivered-To: info@localpost.test\r\n")
    assert outcome.without_account == []


async def test_no_stored_row_is_left_without_an_entry_showing_it(
    pool: Any, people: dict[str, int], deliver: Any
) -> None:
    await db.add_alias(pool, address=INFO, targets=[ALICE, BOB])

    await deliver(RAW, rcpt_to=["alice+x@localpost.test"])
    await deliver(RAW, rcpt_to=[INFO])
    await deliver(RAW, rcpt_to=[INFO, "carol+y@localpost.test"])

    unshown = await pool.fetchval(
        "SELECT count(*) FROM messages m"
        " WHERE NOT EXISTS (SELECT 1 FROM mailbox_entries e WHERE e.message_id = m.id)"
    )
    assert unshown == 0
    assert await entry_counts(pool) == {ALICE: 3, BOB: 2, CAROL: 1}
    # Mail that also reached nobody is kept as received (without an account, as before).
    gateway_id = secrets.token_hex(13).upper()
    await deliver(RAW, rcpt_to=[INFO, "postmaster@localpost.test"], gateway_id=gateway_id)
    kept = await pool.fetchval("SELECT raw FROM messages WHERE id = $1", gateway_id)
    assert bytes(kept) == RAW


async def test_an_account_named_directly_and_through_an_alias_gets_one_entry(
    pool: Any, people: dict[str, int], deliver: Any
) -> None:
    await db.add_alias(pool, address=INFO, targets=[ALICE, BOB])

    outcome = await deliver(RAW, rcpt_to=[INFO, ALICE, "alice+x@localpost.test"])

    assert await entry_counts(pool) == {ALICE: 1, BOB: 1}
    by_address = {e.address: e for e in outcome.entries}
    assert await raw_of(pool, by_address[ALICE]) == RAW
    assert (await raw_of(pool, by_address[BOB])).startswith(b"Delivered-To: info@")


async def test_a_redelivered_aliased_message_stores_nothing_twice(
    pool: Any, people: dict[str, int], deliver: Any
) -> None:
    await db.add_alias(pool, address=INFO, targets=[ALICE, BOB])
    gateway_id = secrets.token_hex(13).upper()

    first = await deliver(RAW, rcpt_to=[INFO], gateway_id=gateway_id)
    again = await deliver(RAW, rcpt_to=[INFO], gateway_id=gateway_id)

    assert len(first.entries) == 2
    assert (again.stored, again.entries) == (False, [])
    assert await entry_counts(pool) == {ALICE: 1, BOB: 1}
    # Nobody got it as received: its own row is Alice's copy, and Bob has one of his.
    assert await pool.fetchval("SELECT count(*) FROM messages") == 2


async def test_two_replicas_storing_one_aliased_message_at_once_store_it_once(
    pool: Any, people: dict[str, int]
) -> None:
    await db.add_alias(pool, address=INFO, targets=[ALICE, BOB])
    message = db.NewMessage(
        secrets.token_hex(13).upper(), "d@example.com", [INFO], None, RAW, parse_message(RAW)
    )

    outcomes = await asyncio.gather(*(db.store_messages(pool, [message]) for _ in range(4)))

    assert sorted(len(o.entries) for (o,) in outcomes) == [0, 0, 0, 2]
    assert await entry_counts(pool) == {ALICE: 1, BOB: 1}


async def test_alias_management_refuses_shadows_and_unknown_targets(
    pool: Any, people: dict[str, int]
) -> None:
    with pytest.raises(AliasRefused, match="account's address"):
        await db.add_alias(pool, address=ALICE, targets=[BOB])
    with pytest.raises(AliasRefused, match="no account nobody@"):
        await db.add_alias(pool, address=INFO, targets=[ALICE, "nobody@localpost.test"])
    assert await db.list_aliases(pool) == {}

    assert await db.add_alias(pool, address=INFO, targets=[BOB]) == [BOB]
    assert await db.add_alias(pool, address=INFO, targets=[ALICE, BOB]) == [ALICE, BOB]
    # Nobody can register the alias's address afterwards.
    with pytest.raises(AddressTaken):
        await make_account(pool, INFO)
    assert await db.aliases_of(pool, account_id=people[ALICE]) == [INFO]
    assert await db.remove_alias(pool, address=INFO) is True
    assert await db.remove_alias(pool, address=INFO) is False
    assert await db.list_aliases(pool) == {}


async def test_a_deleted_account_leaves_its_aliases(
    pool: Any, people: dict[str, int], deliver: Any
) -> None:
    await db.add_alias(pool, address=INFO, targets=[ALICE, BOB])
    await db.delete_account(pool, account_id=people[BOB])

    outcome = await deliver(RAW, rcpt_to=[INFO])

    assert [e.address for e in outcome.entries] == [ALICE]
    assert await db.list_aliases(pool) == {INFO: [ALICE]}


# -- role addresses (RFC 2142) ----------------------------------------------------------------


async def test_a_role_address_with_an_alias_goes_where_the_alias_says(
    pool: Any, people: dict[str, int], deliver: Any
) -> None:
    await db.add_alias(pool, address="abuse@localpost.test", targets=[CAROL])

    outcome = await deliver(RAW, rcpt_to=["abuse@localpost.test"])

    assert [e.address for e in outcome.entries] == [CAROL]


async def test_a_role_address_without_an_alias_goes_to_the_administrators(
    pool: Any, people: dict[str, int], deliver: Any
) -> None:
    for admin in (BOB, CAROL):
        await db.set_admin(pool, address=admin, admin=True)
    # A disabled administrator reads nothing: the role mail is not filed for Alice.
    await db.set_admin(pool, address=ALICE, admin=True)
    await db.set_disabled(pool, address=ALICE, disabled=True)

    outcome = await deliver(RAW, rcpt_to=["postmaster@localpost.test", BOB])

    assert sorted(e.address for e in outcome.entries) == [BOB, CAROL]
    by_address = {e.address: e for e in outcome.entries}
    assert await raw_of(pool, by_address[BOB]) == RAW
    assert (await raw_of(pool, by_address[CAROL])).startswith(b"Delivered-To: postmaster@")


async def test_without_administrators_role_mail_is_kept_without_an_account(
    pool: Any, people: dict[str, int], deliver: Any
) -> None:
    assert await db.administrator_ids(pool) == []

    outcome = await deliver(RAW, rcpt_to=["postmaster@localpost.test"])

    assert (outcome.stored, outcome.entries) == (True, [])
    assert outcome.without_account == ["postmaster@localpost.test"]
    assert await pool.fetchval("SELECT count(*) FROM messages") == 1


# -- the HTTP API -----------------------------------------------------------------------------


async def recipient_status(client: Client, address: str) -> int:
    url = f"/v1/recipients/{quote(address, safe='@')}"
    response = await client.get(url, headers=AUTH)
    return response.status


async def test_the_rcpt_check_says_yes_to_every_kind_and_the_same_404_to_the_rest(
    client: Client, pool: Any, people: dict[str, int]
) -> None:
    await db.add_alias(pool, address=INFO, targets=[ALICE])
    await db.add_alias(pool, address="webmaster@localpost.test", targets=[BOB])

    for address in (ALICE, "Alice+Tag@LocalPost.test", INFO, "info+x@localpost.test"):
        assert await recipient_status(client, address) == 200, address
    assert await recipient_status(client, "webmaster@localpost.test") == 200
    unknown = await client.get("/v1/recipients/nobody@localpost.test", headers=AUTH)
    no_account = await client.get("/v1/mailboxes/nobody@localpost.test", headers=AUTH)
    assert unknown.status == 404
    # Nothing tells an unknown address from a role address with nobody behind it.
    role = await client.get("/v1/recipients/abuse@localpost.test", headers=AUTH)
    assert role.status == 404
    assert (await role.json()).keys() == (await unknown.json()).keys()
    assert (await unknown.json()).keys() == (await no_account.json()).keys()
    for hostile in ("a\x00b@localpost.test", "+@localpost.test", "a\r\nb@localpost.test", "@"):
        assert await recipient_status(client, hostile) == 404, repr(hostile)


async def test_the_rcpt_check_says_disabled_when_only_disabled_accounts_are_behind(
    client: Client, pool: Any, people: dict[str, int]
) -> None:
    await db.add_alias(pool, address=INFO, targets=[ALICE, BOB])
    await db.add_alias(pool, address="alone@localpost.test", targets=[ALICE])
    await db.set_disabled(pool, address=ALICE, disabled=True)

    async def answer(address: str) -> tuple[int, object]:
        response = await client.get(f"/v1/recipients/{quote(address, safe='@')}", headers=AUTH)
        return response.status, (await response.json()).get("disabled")

    assert await answer(ALICE) == (200, True)
    assert await answer("alice+tag@localpost.test") == (200, True)
    assert await answer(INFO) == (200, False)  # Bob still reads it
    assert await answer(BOB) == (200, False)
    # An alias whose every account is disabled reaches nobody: the same 404 as unknown.
    assert (await answer("alone@localpost.test"))[0] == 404


async def test_the_aliases_an_account_may_send_as(
    client: Client, pool: Any, people: dict[str, int]
) -> None:
    await db.add_alias(pool, address=INFO, targets=[ALICE, BOB])
    await db.add_alias(pool, address="team@localpost.test", targets=[BOB])

    alice = await client.get(f"/v1/accounts/{ALICE}/aliases", headers=AUTH)
    carol = await client.get(f"/v1/accounts/{CAROL}/aliases", headers=AUTH)
    nobody = await client.get("/v1/accounts/nobody@localpost.test/aliases", headers=AUTH)

    assert await alice.json() == {"aliases": [INFO]}
    assert await carol.json() == {"aliases": []}
    assert nobody.status == 404


# -- python -m mailstore alias ----------------------------------------------------------------


async def mailstore_cli(database_url: str, *args: str) -> tuple[int, str, str]:
    environ = {
        **os.environ,
        "LOCALPOST_DEV": "1",
        "DATABASE_URL": database_url,
        "LOCALPOST_DOMAIN": "localpost.test",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "mailstore",
        *args,
        env=environ,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_the_alias_command_adds_lists_and_removes(
    database_url: str, pool: Any, people: dict[str, int]
) -> None:
    added = await mailstore_cli(database_url, "alias", "add", "Info@LocalPost.test", BOB, ALICE)
    listed = await mailstore_cli(database_url, "alias", "list")
    shadow = await mailstore_cli(database_url, "alias", "add", ALICE, BOB)
    unknown = await mailstore_cli(database_url, "alias", "add", "team@localpost.test", "x@y.z")
    foreign = await mailstore_cli(database_url, "alias", "add", "info@example.com", ALICE)
    plus = await mailstore_cli(database_url, "alias", "add", "info+x@localpost.test", ALICE)
    removed = await mailstore_cli(database_url, "alias", "remove", INFO)
    again = await mailstore_cli(database_url, "alias", "remove", INFO)
    usage = await mailstore_cli(database_url, "alias", "add", INFO)

    assert added == (0, f"{INFO} -> {ALICE}, {BOB}\n", "")
    assert listed == (0, f"{INFO} -> {ALICE}, {BOB}\n", "")
    assert shadow[0] == 1
    assert "is an account's address" in shadow[2]
    assert unknown[0] == 1
    assert "no account x@y.z" in unknown[2]
    assert foreign[0] == 1
    assert "local domain" in foreign[2]
    assert plus[0] == 1
    assert "subaddress delimiter" in plus[2]
    assert removed == (0, f"{INFO} removed\n", "")
    assert again[0] == 1
    assert "no such alias" in again[2]
    assert usage[0] == 2
    assert await db.list_aliases(pool) == {}


async def test_new_accounts_may_not_hold_the_subaddress_delimiter(client: Client) -> None:
    body = {"address": "ann+shop@localpost.test", "name": "", "password": "correct horse b"}
    response = await client.post("/v1/accounts", json=body, headers=AUTH)
    assert response.status == 422
    assert "subaddress delimiter" in (await response.json())["fields"]["address"]


async def test_imap_serves_each_accounts_copy_with_its_delivered_to(
    client: Client, pool: Any, people: dict[str, int], deliver: Any
) -> None:
    await db.add_alias(pool, address=INFO, targets=[ALICE, BOB])
    await deliver(RAW, rcpt_to=[INFO])

    for address in (ALICE, BOB):
        response = await client.get(
            f"/v1/accounts/{address}/imap/raw", params={"folder": "INBOX", "uid": "1"}, headers=AUTH
        )
        served = await response.read()
        assert served == b"Delivered-To: info@localpost.test\r\n" + RAW
        assert response.headers["X-Message-Size"] == str(len(served))
