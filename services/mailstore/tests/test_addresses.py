"""Issue 16's address kinds where mail is stored: subaddresses, aliases, lists, role
addresses, catch-alls.

Each account reached gets one entry per message, with a Delivered-To naming the
recipient that reached it when that was not the account's own address; the gateway's
RCPT check (``/v1/recipients``) says yes to every kind and the same 404 to the rest.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import sys
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from mailstore import db
from mailstore.errors import AddressTaken, AliasRefused, CatchallRefused, ListRefused
from mailstore.imap_structure import describe
from mailstore.parsing import parse_message
from mailstore.settings import DEV_MAILSTORE_TOKEN
from mailstore.topology import Topology, declare_topology

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
    # Nobody got it as received: its own row is the copy (Delivered-To: info@) that
    # Alice and Bob are both shown.
    assert await pool.fetchval("SELECT count(*) FROM messages") == 1


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


async def test_an_alias_gone_with_its_last_account_leaves_nothing_to_inherit(
    pool: Any, people: dict[str, int]
) -> None:
    # info@ reaches bob alone; a list names it, and the catch-all goes to it. Deleting
    # bob takes the alias with him (ON DELETE CASCADE) and frees its address: whoever
    # registers info@ next must not get the list's or the catch-all's mail.
    await db.add_alias(pool, address=INFO, targets=[BOB])
    await db.create_list(pool, address="team@localpost.test", policy="members")
    members = [INFO, BOB, ALICE]
    await db.add_members(pool, address="team@localpost.test", members=members)
    await db.set_catchall(pool, domain="localpost.test", target=INFO)

    await db.delete_account(pool, account_id=people[BOB])
    await make_account(pool, INFO)

    found = await db.get_list(pool, address="team@localpost.test")
    assert found is not None
    # bob's own address is retired: his membership would reach nobody, so it goes too.
    assert found.members == [ALICE]
    assert await db.list_catchalls(pool) == {}


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


async def mailstore_cli(
    database_url: str, *args: str, prefix: str = "localpost"
) -> tuple[int, str, str]:
    environ = {
        **os.environ,
        "LOCALPOST_DEV": "1",
        "DATABASE_URL": database_url,
        "LOCALPOST_DOMAIN": "localpost.test",
        "LOCALPOST_QUEUE_PREFIX": prefix,
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


async def test_the_address_commands_tell_the_gateways_and_reading_ones_do_not(
    database_url: str, people: dict[str, int], broker: Any, prefix: str
) -> None:
    # The queue a gateway binds (smtp_gateway/directory_events.py), on a real broker.
    channel = await broker.channel()
    await declare_topology(channel, Topology(prefix))
    heard = await channel.declare_queue(exclusive=True)
    await heard.bind(Topology(prefix).directory_exchange)
    commands = [
        ("alias", "add", INFO, ALICE),
        ("alias", "list"),
        ("list", "create", "team@localpost.test"),
        ("list", "show", "team@localpost.test"),
        ("catchall", "set", "localpost.test", ALICE),
        ("catchall", "show"),
    ]
    for command in commands:
        assert (await mailstore_cli(database_url, *command, prefix=prefix))[0] == 0

    reasons = []
    while (message := await heard.get(fail=False, timeout=1)) is not None:
        reasons.append(json.loads(message.body)["reason"])
    assert reasons == ["alias add", "list create", "catchall set"]
    await channel.close()


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


# -- lists ------------------------------------------------------------------------------------

TEAM, DEVS = "team@localpost.test", "devs@localpost.test"
LIST_FIELDS = b"List-Id: <team.localpost.test>\r\nList-Post: <mailto:team@localpost.test>\r\n"


@pytest.fixture
async def team(pool: Any, people: dict[str, int]) -> None:
    """team: alice, devs; devs: bob, carol and team again (a loop)."""
    await db.create_list(pool, address=TEAM, policy="members")
    await db.create_list(pool, address=DEVS, policy="local")
    await db.add_members(pool, address=DEVS, members=[BOB, CAROL, TEAM])
    await db.add_members(pool, address=TEAM, members=[ALICE, DEVS])


async def test_a_list_makes_one_entry_per_member_with_list_fields(
    pool: Any, team: None, deliver: Any
) -> None:
    outcome = await deliver(RAW, rcpt_to=[TEAM])

    assert sorted(e.address for e in outcome.entries) == [ALICE, BOB, CAROL]
    assert outcome.without_account == []
    for entry in outcome.entries:
        assert await raw_of(pool, entry) == b"Delivered-To: " + TEAM.encode() + b"\r\n" + (
            LIST_FIELDS + RAW
        )
    # The three are shown the same bytes: one stored row, the message's own.
    assert await pool.fetchval("SELECT count(*) FROM messages") == 1


async def test_one_copy_per_recipient_and_list_is_shared_by_the_accounts_it_reached(
    pool: Any, team: None, deliver: Any
) -> None:
    await db.add_alias(pool, address=INFO, targets=[BOB, CAROL])

    outcome = await deliver(RAW, rcpt_to=[ALICE, TEAM, INFO], submitted_by=ALICE)

    # Alice by her own address (and Sent): the row as received; Bob and Carol through
    # team (Alice left out as the sender): one copy for both.
    by_address = {(e.address, e.folder): e for e in outcome.entries}
    assert sorted(by_address) == [
        (ALICE, "inbox"),
        (ALICE, "sent"),
        (BOB, "inbox"),
        (CAROL, "inbox"),
    ]
    rows = await pool.fetch(
        "SELECT message_id, count(*) AS n FROM mailbox_entries GROUP BY 1 ORDER BY 2"
    )
    assert [row["n"] for row in rows] == [2, 2]
    assert await raw_of(pool, by_address[(BOB, "inbox")]) == (
        b"Delivered-To: " + TEAM.encode() + b"\r\n" + LIST_FIELDS + RAW
    )
    assert await raw_of(pool, by_address[(CAROL, "inbox")]) == await raw_of(
        pool, by_address[(BOB, "inbox")]
    )


async def test_the_authenticated_sender_gets_no_list_copy_a_forged_mail_from_changes_nothing(
    pool: Any, team: None, deliver: Any
) -> None:
    sent = await deliver(RAW, rcpt_to=[TEAM], mail_from=ALICE, submitted_by=ALICE)
    forged = await deliver(RAW, rcpt_to=[TEAM], mail_from=BOB)

    assert sorted((e.address, e.folder) for e in sent.entries) == [
        (ALICE, "sent"),
        (BOB, "inbox"),
        (CAROL, "inbox"),
    ]
    # MAIL FROM is not authenticated: Bob's copy is not withheld on its word.
    assert sorted(e.address for e in forged.entries) == [ALICE, BOB, CAROL]


async def test_an_account_named_directly_and_through_lists_gets_one_entry(
    pool: Any, team: None, deliver: Any
) -> None:
    outcome = await deliver(RAW, rcpt_to=[DEVS, TEAM, BOB, "team+x@localpost.test"])

    assert await entry_counts(pool) == {ALICE: 1, BOB: 1, CAROL: 1}
    by_address = {e.address: e for e in outcome.entries}
    assert await raw_of(pool, by_address[BOB]) == RAW
    carol = await raw_of(pool, by_address[CAROL])
    assert carol.startswith(b"Delivered-To: devs@localpost.test\r\nList-Id: <devs.localpost")


async def test_a_redelivered_list_message_stores_nothing_twice(
    pool: Any, team: None, deliver: Any
) -> None:
    gateway_id = secrets.token_hex(13).upper()

    first = await deliver(RAW, rcpt_to=[TEAM], gateway_id=gateway_id)
    again = await deliver(RAW, rcpt_to=[TEAM], gateway_id=gateway_id)

    assert len(first.entries) == 3
    assert (again.stored, again.entries) == (False, [])
    assert await entry_counts(pool) == {ALICE: 1, BOB: 1, CAROL: 1}


async def test_two_replicas_storing_one_list_batch_at_once_store_it_once(
    pool: Any, team: None
) -> None:
    batch = [
        db.NewMessage(
            secrets.token_hex(13).upper(), "d@example.com", [TEAM], None, RAW, parse_message(RAW)
        )
        for _ in range(5)
    ]

    outcomes = await asyncio.gather(*(db.store_messages(pool, batch) for _ in range(4)))

    assert sum(len(o.entries) for batch_outcomes in outcomes for o in batch_outcomes) == 15
    assert await entry_counts(pool) == {ALICE: 5, BOB: 5, CAROL: 5}


async def test_list_management_keeps_addresses_apart_and_members_known(
    pool: Any, people: dict[str, int]
) -> None:
    await db.add_alias(pool, address=INFO, targets=[ALICE])
    await db.create_list(pool, address=TEAM, policy="anyone")

    for taken, reason in ((ALICE, "account"), (INFO, "alias"), (TEAM, "is a list already")):
        with pytest.raises(ListRefused, match=reason):
            await db.create_list(pool, address=taken, policy="members")
    with pytest.raises(AliasRefused, match="is a list's address"):
        await db.add_alias(pool, address=TEAM, targets=[BOB])
    with pytest.raises(AddressTaken):
        await db.create_account(pool, address=TEAM, name="", password_hash="x")
    with pytest.raises(ListRefused, match=r"no account, alias or list x@localpost\.test"):
        await db.add_members(pool, address=TEAM, members=[ALICE, "x@localpost.test"])
    with pytest.raises(ListRefused, match="no such list"):
        await db.add_members(pool, address=DEVS, members=[ALICE])
    assert await db.add_members(pool, address=TEAM, members=[INFO, TEAM, INFO]) == [INFO, TEAM]
    with pytest.raises(ListRefused, match="has no member bob@"):
        await db.remove_members(pool, address=TEAM, members=[INFO, BOB])
    assert await db.remove_members(pool, address=TEAM, members=[TEAM]) == [INFO]
    assert await db.set_policy(pool, address=TEAM, policy="local")
    assert not await db.set_policy(pool, address=DEVS, policy="local")
    assert await db.list_lists(pool) == [db.ListInfo(TEAM, "local", [INFO])]
    assert await db.delete_list(pool, address=TEAM)
    assert not await db.delete_list(pool, address=TEAM)
    assert await pool.fetchval("SELECT count(*) FROM list_members") == 0


async def test_a_removed_alias_or_list_leaves_no_membership_or_catch_all_behind(
    pool: Any, people: dict[str, int], deliver: Any
) -> None:
    await db.add_alias(pool, address=INFO, targets=[BOB])
    await db.create_list(pool, address=TEAM, policy="anyone")
    await db.create_list(pool, address=DEVS, policy="anyone")
    await db.add_members(pool, address=TEAM, members=[ALICE, INFO, DEVS])
    await db.set_catchall(pool, domain="localpost.test", target=INFO)

    assert await db.remove_alias(pool, address=INFO)
    assert await db.delete_list(pool, address=DEVS)
    assert await db.list_catchalls(pool) == {}
    # The freed alias address becomes an account's: it is no member of team.
    await make_account(pool, INFO)
    outcome = await deliver(RAW, rcpt_to=[TEAM])

    assert await db.get_list(pool, address=TEAM) == db.ListInfo(TEAM, "anyone", [ALICE])
    assert [e.address for e in outcome.entries] == [ALICE]


# -- catch-all --------------------------------------------------------------------------------


async def test_a_catch_all_takes_what_nothing_else_does_with_delivered_to(
    pool: Any, team: None, deliver: Any
) -> None:
    await db.add_alias(pool, address=INFO, targets=[BOB])
    with pytest.raises(CatchallRefused, match="no account, alias or list"):
        await db.set_catchall(pool, domain="localpost.test", target="x@localpost.test")
    await db.set_catchall(pool, domain="localpost.test", target=CAROL)

    caught = await deliver(RAW, rcpt_to=["sales@localpost.test", INFO, "alice+x@localpost.test"])
    await db.set_catchall(pool, domain="localpost.test", target=TEAM)
    listed = await deliver(RAW, rcpt_to=["sales@localpost.test"])
    assert await db.list_catchalls(pool) == {"localpost.test": TEAM}
    assert await db.unset_catchall(pool, domain="localpost.test")
    nobody = await deliver(RAW, rcpt_to=["sales@localpost.test"])

    assert sorted(e.address for e in caught.entries) == [ALICE, BOB, CAROL]
    (carol,) = [e for e in caught.entries if e.address == CAROL]
    assert await raw_of(pool, carol) == b"Delivered-To: sales@localpost.test\r\n" + RAW
    assert sorted(e.address for e in listed.entries) == [ALICE, BOB, CAROL]
    assert (await raw_of(pool, listed.entries[0])).startswith(
        b"Delivered-To: sales@localpost.test\r\n" + LIST_FIELDS
    )
    assert (nobody.entries, nobody.without_account) == ([], ["sales@localpost.test"])
    assert not await db.unset_catchall(pool, domain="localpost.test")


# -- the RCPT check for lists and catch-alls ---------------------------------------------------


async def rcpt_answer(client: Client, address: str, sender: str | None) -> tuple[int, object]:
    params = {} if sender is None else {"sender": sender}
    response = await client.get(
        f"/v1/recipients/{quote(address, safe='@')}", params=params, headers=AUTH
    )
    return response.status, (await response.json()).get("sender_refused")


async def test_the_rcpt_check_applies_a_lists_posting_policy_to_the_sender(
    client: Client, pool: Any, team: None
) -> None:
    await db.create_list(pool, address="open@localpost.test", policy="anyone")
    await db.add_members(pool, address="open@localpost.test", members=[ALICE])

    assert await rcpt_answer(client, TEAM, ALICE) == (200, False)
    assert await rcpt_answer(client, TEAM, "Bob@LocalPost.test") == (200, False)  # via devs
    assert await rcpt_answer(client, "team+x@localpost.test", CAROL) == (200, False)
    assert await rcpt_answer(client, TEAM, "stranger@example.com") == (200, True)
    assert await rcpt_answer(client, TEAM, None) == (200, True)
    assert await rcpt_answer(client, DEVS, ALICE) == (200, False)  # local
    assert await rcpt_answer(client, DEVS, "stranger@example.com") == (200, True)
    assert await rcpt_answer(client, "open@localpost.test", "") == (200, False)
    # Not lists: the sender changes nothing; unknown stays the one 404.
    assert await rcpt_answer(client, ALICE, None) == (200, False)
    unknown = await client.get(
        "/v1/recipients/nobody@localpost.test", params={"sender": ALICE}, headers=AUTH
    )
    plain = await client.get("/v1/recipients/nobody@localpost.test", headers=AUTH)
    assert unknown.status == plain.status == 404
    assert await unknown.json() == await plain.json()


async def test_the_rcpt_check_says_yes_to_any_address_of_a_catch_all_domain(
    client: Client, pool: Any, team: None
) -> None:
    assert await recipient_status(client, "sales@localpost.test") == 404
    await db.set_catchall(pool, domain="localpost.test", target=TEAM)

    assert await rcpt_answer(client, "sales@localpost.test", ALICE) == (200, False)
    # The target's policy is the one checked.
    assert await rcpt_answer(client, "sales@localpost.test", "x@example.com") == (200, True)
    assert await recipient_status(client, "sales@other.test") == 404


# -- python -m mailstore list / catchall --------------------------------------------------------


async def test_the_list_and_catchall_commands(
    database_url: str, pool: Any, people: dict[str, int]
) -> None:
    async def run(*args: str) -> tuple[int, str, str]:
        return await mailstore_cli(database_url, *args)

    created = await run("list", "create", "Team@LocalPost.test", "--policy", "local")
    added = await run("list", "add", TEAM, BOB, ALICE, TEAM)
    policy = await run("list", "policy", TEAM, "anyone")
    removed = await run("list", "remove", TEAM, TEAM)
    shown = await run("list", "show", TEAM)
    listed = await run("list", "list")
    taken = await run("list", "create", ALICE)
    foreign = await run("list", "create", "team@example.com")
    unknown = await run("list", "add", TEAM, "x@localpost.test")
    bad_policy = await run("list", "policy", TEAM, "nobody")
    caught = await run("catchall", "set", "LocalPost.test", TEAM)
    shown_catchall = await run("catchall", "show")
    foreign_catchall = await run("catchall", "set", "example.com", TEAM)
    bad_target = await run("catchall", "set", "localpost.test", "x@localpost.test")
    unset = await run("catchall", "unset", "localpost.test")
    unset_again = await run("catchall", "unset", "localpost.test")
    deleted = await run("list", "delete", TEAM)
    deleted_again = await run("list", "delete", TEAM)
    shown_gone = await run("list", "show", TEAM)

    assert created == (0, f"{TEAM} (local) -> \n", "")
    assert added == (0, f"{TEAM} (local) -> {ALICE}, {BOB}, {TEAM}\n", "")
    assert policy == (0, f"{TEAM} (anyone) -> {ALICE}, {BOB}, {TEAM}\n", "")
    assert removed == shown == listed == (0, f"{TEAM} (anyone) -> {ALICE}, {BOB}\n", "")
    assert bad_policy[0] == 2
    assert caught == shown_catchall == (0, f"localpost.test -> {TEAM}\n", "")
    assert unset == (0, "localpost.test catch-all off\n", "")
    assert deleted == (0, f"{TEAM} deleted\n", "")
    for result, why in (
        (taken, "is an account's address"),
        (foreign, "local domain"),
        (unknown, "no account, alias or list x@localpost.test"),
        (foreign_catchall, "local domain"),
        (bad_target, "no account, alias or list x@localpost.test"),
        (unset_again, "has no catch-all"),
        (deleted_again, "no such list"),
        (shown_gone, "no such list"),
    ):
        assert (result[0], why in result[2]) == (1, True), result
