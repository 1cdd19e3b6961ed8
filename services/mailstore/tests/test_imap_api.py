"""The IMAP-facing API on real PostgreSQL, over HTTP: folders, SELECT, FETCH, STORE,
COPY/MOVE, EXPUNGE, changes since a MODSEQ, APPEND and \\Recent claims (views.imap)."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from mailstore.db import subscriptions as db_subscriptions
from mailstore.settings import DEV_MAILSTORE_TOKEN
from mailstore.views import messages as message_views

Client = TestClient[web.Request, web.Application]
# The shared corpus sits beside the repository (only a developer checkout has it).
CORPUS = Path(__file__).resolve().parents[4] / "shared" / "corpus" / "emails"
AUTH = {"Authorization": f"Bearer {DEV_MAILSTORE_TOKEN}"}
ALICE, BOB = "alice@localpost.test", "bob@localpost.test"
IMAP = f"/v1/accounts/{ALICE}/imap"


def mail(subject: str = "Hello", message_id: str = "<m@example.com>") -> bytes:
    return (
        f"From: Carol <carol@example.com>\r\nTo: {ALICE}\r\nSubject: {subject}\r\n"
        f"Date: Tue, 1 Jul 2025 10:00:00 +0000\r\nMessage-ID: {message_id}\r\n\r\n"
        "Just saying hello.\r\n"
    ).encode()


@pytest.fixture
async def alice(client: Client) -> None:
    for address in (ALICE, BOB):
        body = {"address": address, "name": "", "password": "correct horse battery"}
        response = await client.post("/v1/accounts", json=body, headers=AUTH)
        assert response.status == 201


async def post(client: Client, path: str, body: dict[str, Any], status: int = 200) -> Any:
    response = await client.post(IMAP + path, json=body, headers=AUTH)
    assert response.status == status, await response.text()
    return await response.json() if response.content_type == "application/json" else None


async def get(client: Client, path: str, status: int = 200, **query: Any) -> Any:
    response = await client.get(IMAP + path, params=query, headers=AUTH)
    assert response.status == status, await response.text()
    return await response.json()


async def fetch(client: Client, folder: str, uids: str, **more: Any) -> list[dict[str, Any]]:
    response = await client.post(
        IMAP + "/fetch", json={"folder": folder, "uids": uids, **more}, headers=AUTH
    )
    assert response.status == 200, await response.text()
    return [json.loads(line) for line in (await response.text()).splitlines()]


async def append(
    client: Client, folder: str, *raws: bytes, flags: list[str] | None = None, status: int = 200
) -> Any:
    form = aiohttp.FormData()
    meta = {"folder": folder, "messages": [{"flags": flags or []} for _ in raws]}
    form.add_field("meta", json.dumps(meta), content_type="application/json")
    for raw in raws:
        form.add_field("message", raw, content_type="message/rfc822", filename="m.eml")
    response = await client.post(IMAP + "/append", data=form, headers=AUTH)
    assert response.status == status, await response.text()
    return await response.json()


async def folders(client: Client) -> dict[str, dict[str, Any]]:
    return {f["name"]: f for f in (await get(client, "/folders"))["folders"]}


# -- folders -------------------------------------------------------------------------------


async def test_folder_list_has_the_six_with_status_inbox_first(client: Client, alice: None) -> None:
    await append(client, "INBOX", mail(), mail("two"), flags=["\\Seen"])
    listed = (await get(client, "/folders"))["folders"]

    assert [f["name"] for f in listed] == ["INBOX", "Archive", "Drafts", "Junk", "Sent", "Trash"]
    inbox = listed[0]
    assert (inbox["messages"], inbox["unseen"], inbox["deleted"]) == (2, 0, 0)
    assert inbox["size"] == len(mail()) + len(mail("two"))
    assert inbox["uidnext"] == 3
    assert inbox["uidvalidity"] >= 1
    assert listed[4]["special_use"] == ["\\Sent"]


async def test_create_makes_parents_and_refuses_a_taken_name(client: Client, alice: None) -> None:
    await post(client, "/folders", {"name": "Work/2026/Q1"}, 201)
    found = await folders(client)
    again = await client.post(IMAP + "/folders", json={"name": "Work/2026/Q1"}, headers=AUTH)

    assert {"Work", "Work/2026", "Work/2026/Q1"} <= set(found)
    assert not any(found[name]["subscribed"] for name in ("Work", "Work/2026", "Work/2026/Q1"))
    assert found["Work"]["children"]
    assert not found["Work/2026/Q1"]["children"]
    assert again.status == 409
    assert (await again.json())["code"] == "alreadyexists"


@pytest.mark.parametrize(
    "name",
    [
        "",
        "a//b",
        "/a",
        "a/",
        "bad\x00name",
        "bad\x07name",
        "a*",
        "b%",
        "x" * 501,
        "a/" * 1000 + "a",
    ],
)
async def test_hostile_folder_names_are_422(client: Client, alice: None, name: str) -> None:
    response = await client.post(IMAP + "/folders", json={"name": name}, headers=AUTH)
    assert response.status == 422


async def test_rename_moves_children_and_keeps_uidvalidity(client: Client, alice: None) -> None:
    await post(client, "/folders", {"name": "A/B"}, 201)
    before = await folders(client)
    await post(client, "/folders/rename", {"name": "A", "new_name": "Z/A"}, 204)
    after = await folders(client)

    assert "A" not in after
    assert "A/B" not in after
    assert {"Z", "Z/A", "Z/A/B"} <= set(after)
    assert after["Z/A/B"]["uidvalidity"] == before["A/B"]["uidvalidity"]


async def test_rename_into_own_subtree_is_refused(client: Client, alice: None) -> None:
    await post(client, "/folders", {"name": "A"}, 201)
    body = await post(client, "/folders/rename", {"name": "A", "new_name": "A/B"}, 409)
    assert body["code"] == "cannot"


async def test_renaming_inbox_moves_its_messages_and_leaves_it_empty(
    client: Client, alice: None
) -> None:
    await append(client, "INBOX", mail("one", "<1@x>"), mail("two", "<2@x>"))
    await post(client, "/folders/rename", {"name": "inbox", "new_name": "Old"}, 204)
    found = await folders(client)

    assert found["INBOX"]["messages"] == 0
    assert found["Old"]["messages"] == 2
    changes = await get(client, "/changes", folder="INBOX", modseq=1)
    assert changes["vanished"] == "1:2"


async def test_delete_refuses_standard_folders_and_parents(client: Client, alice: None) -> None:
    await post(client, "/folders", {"name": "P/C"}, 201)
    standard = await post(client, "/folders/delete", {"name": "Sent"}, 409)
    parent = await post(client, "/folders/delete", {"name": "P"}, 409)
    await post(client, "/folders/delete", {"name": "P/C"}, 204)
    await post(client, "/folders/delete", {"name": "P"}, 204)
    missing = await post(client, "/folders/delete", {"name": "P"}, 404)

    assert (standard["code"], parent["code"], missing["code"]) == (
        "cannot",
        "haschildren",
        "nonexistent",
    )


async def test_subscription_is_stored(client: Client, alice: None) -> None:
    await post(client, "/folders", {"name": "News"}, 201)
    await post(client, "/folders/subscription", {"name": "News", "subscribed": True}, 204)
    assert (await folders(client))["News"]["subscribed"]
    await post(client, "/folders/subscription", {"name": "News", "subscribed": False}, 204)
    assert not (await folders(client))["News"]["subscribed"]


async def subscribed(client: Client) -> list[str]:
    names: list[str] = (await get(client, "/subscriptions"))["names"]
    return names


async def subscribe(client: Client, name: str, on: bool = True, address: str = ALICE) -> None:
    response = await client.post(
        f"/v1/accounts/{address}/imap/folders/subscription",
        json={"name": name, "subscribed": on},
        headers=AUTH,
    )
    assert response.status == 204, await response.text()


async def test_a_new_account_subscribes_its_six_folders(client: Client, alice: None) -> None:
    assert await subscribed(client) == ["INBOX", "Archive", "Drafts", "Junk", "Sent", "Trash"]
    assert all(f["subscribed"] for f in (await folders(client)).values())


async def test_a_name_no_folder_has_can_be_subscribed_and_unsubscribed(
    client: Client, alice: None
) -> None:
    """RFC 9051 §6.3.7: a server MAY validate SUBSCRIBE's name; we do not."""
    await subscribe(client, "Later/Box")
    await subscribe(client, "Later/Box")  # twice is once
    await subscribe(client, "inbox", on=False)  # INBOX in any case (RFC 9051 §5.1)
    listed = await subscribed(client)
    await subscribe(client, "Later/Box", on=False)
    await subscribe(client, "Never/Subscribed", on=False)  # unsubscribing nothing is fine

    assert listed == ["Archive", "Drafts", "Junk", "Later/Box", "Sent", "Trash"]
    assert "Later/Box" not in await folders(client)
    assert "Later/Box" not in await subscribed(client)


async def test_a_folder_created_under_a_subscribed_name_is_subscribed(
    client: Client, alice: None
) -> None:
    await subscribe(client, "Later/Box")
    await post(client, "/folders", {"name": "Later/Box"}, 201)
    found = await folders(client)

    assert found["Later/Box"]["subscribed"]
    assert not found["Later"]["subscribed"]


async def test_delete_keeps_the_subscription(client: Client, alice: None) -> None:
    """RFC 9051 §6.3.7: the server MUST NOT unilaterally remove a subscribed name even if
    no mailbox has it any more (imaptest's listext lists it \\NonExistent)."""
    await post(client, "/folders", {"name": "News/Old"}, 201)
    await subscribe(client, "News/Old")
    await post(client, "/folders/delete", {"name": "News/Old"}, 204)

    assert "News/Old" not in await folders(client)
    assert "News/Old" in await subscribed(client)


async def test_rename_moves_the_subscriptions_at_and_below_the_name(
    client: Client, alice: None
) -> None:
    await post(client, "/folders", {"name": "A/B/C"}, 201)
    await post(client, "/folders", {"name": "AB"}, 201)
    for name in ("A", "A/B/C", "A/B/Gone", "AB", "Z/A/B"):
        await subscribe(client, name)
    await post(client, "/folders/rename", {"name": "A", "new_name": "Z/A"}, 204)
    found = await folders(client)

    assert await subscribed(client) == [
        "INBOX",
        "AB",  # a name that only starts like the folder's stays where it is
        "Archive",
        "Drafts",
        "Junk",
        "Sent",
        "Trash",
        "Z/A",
        "Z/A/B",  # subscribed before, and A/B was not: still once
        "Z/A/B/C",
        "Z/A/B/Gone",
    ]
    assert found["Z/A"]["subscribed"]
    assert found["Z/A/B/C"]["subscribed"]
    assert not found["Z"]["subscribed"]


async def test_renaming_inbox_leaves_its_subscription(client: Client, alice: None) -> None:
    await post(client, "/folders/rename", {"name": "INBOX", "new_name": "Old"}, 204)
    names = await subscribed(client)

    assert "INBOX" in names
    assert "Old" not in names


async def test_a_refused_rename_moves_no_subscription(client: Client, alice: None) -> None:
    await post(client, "/folders", {"name": "A/B"}, 201)
    await post(client, "/folders", {"name": "Taken"}, 201)
    await subscribe(client, "A/B")
    await post(client, "/folders/rename", {"name": "A", "new_name": "Taken"}, 409)
    await post(client, "/folders/rename", {"name": "A", "new_name": "A/B/C"}, 409)

    assert "A/B" in await subscribed(client)
    assert not any(name.startswith("Taken/") for name in await subscribed(client))


async def test_another_accounts_subscriptions_never_show(client: Client, alice: None) -> None:
    await subscribe(client, "Bobs/Secret", address=BOB)
    await subscribe(client, "Sent", on=False, address=BOB)
    response = await client.post(
        f"/v1/accounts/{BOB}/imap/folders", json={"name": "Shared"}, headers=AUTH
    )
    assert response.status == 201
    await subscribe(client, "Shared", address=BOB)
    await post(client, "/folders", {"name": "Shared"}, 201)

    assert "Bobs/Secret" not in await subscribed(client)
    assert "Sent" in await subscribed(client)
    assert not (await folders(client))["Shared"]["subscribed"]


async def test_subscriptions_stop_at_the_limit_with_code_limit(
    client: Client, alice: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SUBSCRIBE takes any name, so the rows it adds are bounded (NO [LIMIT] in IMAP);
    a name already subscribed is still fine, and unsubscribing makes room again."""
    monkeypatch.setattr(db_subscriptions, "MAX_SUBSCRIPTIONS", 8)  # six standard folders
    await subscribe(client, "One")
    await subscribe(client, "Two")
    refused = await post(
        client, "/folders/subscription", {"name": "Three", "subscribed": True}, 409
    )
    await subscribe(client, "Two")
    await subscribe(client, "One", on=False)
    await subscribe(client, "Three")

    assert refused["code"] == "limit"
    assert "Three" in await subscribed(client)


@pytest.mark.parametrize("name", ["", "a//b", "/a", "a/", "a*", "b%", "x" * 501])
async def test_a_subscription_to_a_name_no_folder_could_have_is_422(
    client: Client, alice: None, name: str
) -> None:
    response = await client.post(
        IMAP + "/folders/subscription", json={"name": name, "subscribed": True}, headers=AUTH
    )
    assert response.status == 422


async def test_other_accounts_folder_is_404(client: Client, alice: None) -> None:
    response = await client.post(
        f"/v1/accounts/{BOB}/imap/folders", json={"name": "Secret"}, headers=AUTH
    )
    assert response.status == 201
    missing = await get(client, "/select", 404, folder="Secret")
    assert missing["code"] == "nonexistent"


# -- select, fetch, raw --------------------------------------------------------------------


async def test_select_snapshot_compacts_uids(client: Client, alice: None) -> None:
    await append(client, "INBOX", *(mail(str(n)) for n in range(5)))
    await post(
        client, "/store", {"folder": "INBOX", "uids": "2,3", "mode": "add", "flags": ["\\Deleted"]}
    )
    await post(
        client,
        "/store",
        {"folder": "INBOX", "uids": "1", "mode": "add", "flags": ["\\Seen", "$Work"]},
    )
    await post(client, "/expunge", {"folder": "INBOX"})
    found = await get(client, "/select", folder="INBOX")

    assert found["uids"] == "1,4:5"
    assert found["id"] == "inbox"
    assert found["exists"] == 3
    assert found["first_unseen"] == 4
    assert "$Work" in found["flags"]
    assert "\\Deleted" in found["flags"]
    assert found["uidnext"] == 6


async def test_select_of_a_folder_being_backfilled_is_503(
    client: Client, alice: None, pool: Any
) -> None:
    account = await pool.fetchval("SELECT id FROM accounts WHERE address = $1", ALICE)
    await pool.execute(
        "INSERT INTO uid_backfill (account_id, folder_id) VALUES ($1, 'inbox')", account
    )
    response = await client.get(IMAP + "/select", params={"folder": "INBOX"}, headers=AUTH)
    assert response.status == 503
    assert response.headers["Retry-After"]


async def test_fetch_streams_the_set_with_structure_and_changedsince(
    client: Client, alice: None
) -> None:
    await append(client, "INBOX", mail("a"), mail("b"), mail("c"))
    stored = await post(
        client, "/store", {"folder": "INBOX", "uids": "2", "mode": "add", "flags": ["\\Flagged"]}
    )
    every = await fetch(client, "INBOX", "1:4294967295", structure=True)
    since = await fetch(client, "INBOX", "1:*".replace("*", "100"), changed_since=2)

    assert [line["uid"] for line in every] == [1, 2, 3]
    assert every[0]["size"] == len(mail("a"))
    assert every[0]["structure"]["envelope"]["subject"] == "a"
    assert [line["uid"] for line in since] == [2]
    assert since[0]["modseq"] == stored["updated"][0]["modseq"]
    assert since[0]["flags"] == ["\\Flagged"]


async def test_fetch_with_octets_sends_a_small_message_with_its_line(
    client: Client, alice: None
) -> None:
    from mailstore.db.imap_messages import INLINE_OCTETS

    small = mail("small")
    large = mail("large") + b"x" * INLINE_OCTETS
    await append(client, "INBOX", small, large)
    lines = await fetch(client, "INBOX", "1:2", octets=True)
    without = await fetch(client, "INBOX", "1:2")
    response = await client.post(
        IMAP + "/fetch", json={"folder": "INBOX", "uids": "1", "octets": 1}, headers=AUTH
    )

    assert base64.b64decode(lines[0]["octets"]) == small
    assert "octets" not in lines[1]  # read through /raw, in chunks
    assert all("octets" not in line for line in without)
    assert response.status == 422
    assert "octets" in (await response.json())["fields"]


async def test_fetch_of_the_envelope_alone_sends_the_descriptions_envelope(
    client: Client, alice: None, pool: Any
) -> None:
    await append(client, "INBOX", mail("one"), mail("two"))
    whole = await fetch(client, "INBOX", "1:2", structure=True)
    envelopes = await fetch(client, "INBOX", "1:2", structure="envelope")
    # A message from before migration 0008 is described first, then cut down too.
    await pool.execute("UPDATE messages SET imap_structure = NULL")
    described = await fetch(client, "INBOX", "1", structure="envelope")
    response = await client.post(
        IMAP + "/fetch",
        json={"folder": "INBOX", "uids": "1", "structure": "body"},
        headers=AUTH,
    )

    assert [line["structure"] for line in envelopes] == [
        {"envelope": line["structure"]["envelope"]} for line in whole
    ]
    assert [line["uid"] for line in envelopes] == [1, 2]
    assert described[0]["structure"] == envelopes[0]["structure"]
    assert response.status == 422
    assert "structure" in (await response.json())["fields"]


async def test_structure_of_an_older_message_is_computed_and_saved(
    client: Client, alice: None, pool: Any
) -> None:
    await append(client, "INBOX", mail("old"))
    await pool.execute("UPDATE messages SET imap_structure = NULL")
    first = await fetch(client, "INBOX", "1", structure=True)
    saved = await pool.fetchval("SELECT imap_structure FROM messages")

    assert first[0]["structure"]["envelope"]["subject"] == "old"
    assert saved == first[0]["structure"]


async def test_delivery_stores_the_structure(
    client: Client, alice: None, deliver: Any, pool: Any
) -> None:
    await deliver(mail("delivered"), rcpt_to=[ALICE])
    saved = await pool.fetchval("SELECT imap_structure FROM messages")
    assert saved["envelope"]["subject"] == "delivered"


async def test_raw_gives_a_byte_range(client: Client, alice: None) -> None:
    raw = mail("range")
    await append(client, "INBOX", raw)
    whole = await client.get(IMAP + "/raw", params={"folder": "INBOX", "uid": "1"}, headers=AUTH)
    part = await client.get(
        IMAP + "/raw",
        params={"folder": "INBOX", "uid": "1", "offset": "6", "length": "5"},
        headers=AUTH,
    )
    missing = await client.get(IMAP + "/raw", params={"folder": "INBOX", "uid": "9"}, headers=AUTH)

    assert await whole.read() == raw
    assert await part.read() == raw[6:11]
    assert part.headers["X-Message-Size"] == str(len(raw))
    assert missing.status == 404


@pytest.mark.parametrize(
    ("offset", "length"),
    [(0, None), (0, 2500), (999, 1002), (1500, None), (10**6, None), (2**63 - 1, 5), (3, 0)],
)
async def test_raw_reads_a_large_message_in_slices(
    client: Client, alice: None, monkeypatch: pytest.MonkeyPatch, offset: int, length: int | None
) -> None:
    # The first slice comes with the lookup, the rest one query each (RAW_SLICE).
    monkeypatch.setattr(message_views, "RAW_SLICE", 1000)
    raw = mail("slices") + b"0123456789" * 300
    await append(client, "INBOX", raw)
    params = {"folder": "INBOX", "uid": "1", "offset": str(offset)}
    if length is not None:
        params["length"] = str(length)

    response = await client.get(IMAP + "/raw", params=params, headers=AUTH)

    assert response.status == 200
    end = len(raw) if length is None else offset + length
    assert await response.read() == raw[offset:end]


async def test_raw_of_a_missing_folder_is_404_nonexistent(client: Client, alice: None) -> None:
    response = await client.get(IMAP + "/raw", params={"folder": "Nope", "uid": "1"}, headers=AUTH)

    assert response.status == 404
    assert (await response.json())["code"] == "nonexistent"


@pytest.mark.parametrize(
    "uids", ["", "0", "1:*", "$", "4294967296", "1,,2", "a", "1\x002", ",".join(["1"] * 100_001)]
)
async def test_bad_uid_sets_are_422(client: Client, alice: None, uids: str) -> None:
    response = await client.post(
        IMAP + "/fetch", json={"folder": "INBOX", "uids": uids}, headers=AUTH
    )
    assert response.status == 422


# -- store, copy, move, expunge, changes ---------------------------------------------------


async def test_store_modes_and_unchangedsince(client: Client, alice: None) -> None:
    await append(client, "INBOX", mail("a"), mail("b"))
    added = await post(
        client,
        "/store",
        {"folder": "INBOX", "uids": "1:2", "mode": "add", "flags": ["\\seen", "$Label1"]},
    )
    replaced = await post(
        client,
        "/store",
        {"folder": "INBOX", "uids": "1", "mode": "replace", "flags": ["\\Answered"]},
    )
    guarded = await post(
        client,
        "/store",
        {
            "folder": "INBOX",
            "uids": "1:2",
            "mode": "remove",
            "flags": ["\\Seen"],
            "unchanged_since": added["updated"][1]["modseq"],
        },
    )

    assert added["updated"][0]["flags"] == ["\\Seen"]
    assert added["updated"][0]["keywords"] == ["$Label1"]
    assert replaced["updated"][0]["flags"] == ["\\Answered"]
    assert replaced["updated"][0]["keywords"] == []
    assert replaced["updated"][0]["modseq"] > added["updated"][0]["modseq"]
    assert guarded["modified"] == "1"
    assert [s["uid"] for s in guarded["updated"]] == [2]
    assert guarded["updated"][0]["flags"] == []


async def test_store_refuses_unknown_system_flags(client: Client, alice: None) -> None:
    await append(client, "INBOX", mail())
    body = {"folder": "INBOX", "uids": "1", "mode": "add", "flags": ["\\Bogus"]}
    await post(client, "/store", body, 422)


async def test_copy_shares_the_message_and_move_expunges(
    client: Client, alice: None, pool: Any
) -> None:
    await append(client, "INBOX", mail("a"), mail("b"), mail("c"))
    await post(client, "/folders", {"name": "Kept"}, 201)
    copied = await post(client, "/copy", {"folder": "INBOX", "uids": "1,3", "target": "Kept"})
    moved = await post(client, "/move", {"folder": "INBOX", "uids": "2:3", "target": "Kept"})
    found = await folders(client)
    messages = await pool.fetchval("SELECT count(*) FROM messages")

    assert copied["pairs"] == [[1, 1], [3, 2]]
    assert moved["pairs"] == [[2, 3], [3, 4]]
    assert copied["uidvalidity"] == found["Kept"]["uidvalidity"]
    assert found["Kept"]["messages"] == 4
    assert found["INBOX"]["messages"] == 1
    assert found["Kept"]["uidnext"] == 5
    assert messages == 3
    assert (await get(client, "/changes", folder="INBOX", modseq=1))["vanished"] == "2:3"


async def test_every_entry_holds_its_messages_search_texts_however_it_was_made(
    client: Client, alice: None, deliver: Any, pool: Any
) -> None:
    # SEARCH reads the entry's copy (migration 0024): delivery, APPEND, COPY and MOVE
    # must each leave it equal to the message's.
    await deliver(mail("delivered"), rcpt_to=[ALICE])
    await append(client, "INBOX", mail("a"), mail("b"))
    await post(client, "/folders", {"name": "Kept"}, 201)
    await post(client, "/copy", {"folder": "INBOX", "uids": "1:2", "target": "Kept"})
    await post(client, "/move", {"folder": "INBOX", "uids": "3", "target": "Trash"})
    entries = await pool.fetch(
        "SELECT e.imap_search AS own, m.imap_search AS message"
        " FROM mailbox_entries e JOIN messages m ON m.id = e.message_id"
    )

    assert len(entries) == 5
    assert all(row["own"] is not None and row["own"] == row["message"] for row in entries)
    found = await post(
        client, "/search", {"folder": "Kept", "program": {"key": "SUBJECT", "value": "DELIV"}}
    )
    assert found == {"uids": "1"}


async def test_changes_give_each_changed_entry_with_its_flags_in_uid_order(
    client: Client, alice: None
) -> None:
    await append(client, "INBOX", mail("a"), mail("b"), mail("c"))
    before = (await get(client, "/changes", folder="INBOX", modseq=0))["highestmodseq"]
    flags = ["\\Flagged", "\\Seen", "$Label1", "Work"]
    await post(client, "/store", {"folder": "INBOX", "uids": "3", "mode": "add", "flags": flags})
    await post(
        client, "/store", {"folder": "INBOX", "uids": "1", "mode": "add", "flags": ["\\Draft"]}
    )
    await post(
        client, "/store", {"folder": "INBOX", "uids": "2", "mode": "add", "flags": ["\\Deleted"]}
    )
    await post(client, "/expunge", {"folder": "INBOX"})

    found = await get(client, "/changes", folder="inbox", modseq=before)
    missing = await get(client, "/changes", 404, folder="Nope", modseq=0)

    assert found["vanished"] == "2"
    assert [(c["uid"], c["flags"], sorted(c["keywords"])) for c in found["changed"]] == [
        (1, ["\\Draft"], []),
        (3, ["\\Seen", "\\Flagged"], ["$Label1", "Work"]),
    ]
    assert found["highestmodseq"] == before + 4  # three STOREs and an EXPUNGE
    assert missing["code"] == "nonexistent"


async def test_move_into_trash_can_be_restored_by_the_web(client: Client, alice: None) -> None:
    await append(client, "INBOX", mail("x"))
    await post(client, "/move", {"folder": "INBOX", "uids": "1", "target": "Trash"})
    listing = await client.get(f"/v1/accounts/{ALICE}/messages?folder=trash", headers=AUTH)
    (entry,) = (await listing.json())["messages"]
    restored = await client.post(
        f"/v1/accounts/{ALICE}/messages/{entry['id']}/restore", headers=AUTH
    )

    assert restored.status == 200
    assert (await restored.json())["folder"] == "inbox"


async def test_expunge_only_deleted_and_only_the_set(client: Client, alice: None) -> None:
    await append(client, "INBOX", *(mail(str(n)) for n in range(4)))
    await post(
        client, "/store", {"folder": "INBOX", "uids": "1:3", "mode": "add", "flags": ["\\Deleted"]}
    )
    some = await post(client, "/expunge", {"folder": "INBOX", "uids": "2:4"})
    rest = await post(client, "/expunge", {"folder": "INBOX"})

    assert (some["expunged"], rest["expunged"]) == ("2:3", "1")
    assert (await get(client, "/select", folder="INBOX"))["uids"] == "4"


async def test_changes_since_a_forgotten_modseq_is_410(
    client: Client, alice: None, pool: Any
) -> None:
    await pool.execute("UPDATE folders SET forgotten_modseq = 5 WHERE name = 'INBOX'")
    gone = await get(client, "/changes", 410, folder="INBOX", modseq=4)
    fine = await get(client, "/changes", folder="INBOX", modseq=5)
    assert gone["code"] == "forgotten"
    assert fine == {"highestmodseq": fine["highestmodseq"], "vanished": "", "changed": []}


# -- append ----------------------------------------------------------------------------------


async def test_multiappend_is_all_or_nothing(client: Client, alice: None) -> None:
    form = aiohttp.FormData()
    meta = {"folder": "INBOX", "messages": [{"flags": []}, {"flags": ["\\Bad"]}]}
    form.add_field("meta", json.dumps(meta))
    form.add_field("message", mail("a"), filename="a")
    form.add_field("message", mail("b"), filename="b")
    response = await client.post(IMAP + "/append", data=form, headers=AUTH)

    assert response.status == 422
    assert (await folders(client))["INBOX"]["messages"] == 0


async def test_append_keeps_flags_and_internal_date(client: Client, alice: None) -> None:
    form = aiohttp.FormData()
    meta = {
        "folder": "Drafts",
        "messages": [{"flags": ["\\Draft", "$x"], "internal_date": "2020-02-03T04:05:06+01:00"}],
    }
    form.add_field("meta", json.dumps(meta))
    form.add_field("message", mail("draft"), filename="a")
    response = await client.post(IMAP + "/append", data=form, headers=AUTH)
    assert response.status == 200
    (line,) = await fetch(client, "Drafts", "1")

    assert line["flags"] == ["\\Draft"]
    assert line["keywords"] == ["$x"]
    assert line["internaldate"].startswith("2020-02-03T03:05:06")


async def test_append_to_a_missing_folder_is_404(client: Client, alice: None) -> None:
    body = await append(client, "Nowhere", mail(), status=404)
    assert body["code"] == "nonexistent"


async def test_the_programs_sent_copy_is_the_gateways_entry(
    client: Client, alice: None, deliver: Any
) -> None:
    raw = mail("sent", message_id="<s1@localpost.test>").replace(
        b"Carol <carol@example.com>", ALICE.encode()
    )
    await deliver(raw, rcpt_to=[BOB], submitted_by=ALICE, mail_from=ALICE)
    again = await append(client, "Sent", raw, flags=["\\Seen"])
    other = await append(client, "Sent", raw.replace(b"<s1@", b"<s2@"))

    assert again["uids"] == [1]
    assert other["uids"] == [2]
    assert (await folders(client))["Sent"]["messages"] == 2


async def test_parallel_appends_get_distinct_increasing_uids(client: Client, alice: None) -> None:
    results = await asyncio.gather(*(append(client, "INBOX", mail(str(n))) for n in range(8)))
    uids = sorted(uid for result in results for uid in result["uids"])
    assert uids == list(range(1, 9))


# -- search ----------------------------------------------------------------------------------


async def test_search_is_sql_alone_without_text_keys(client: Client, alice: None) -> None:
    await append(client, "INBOX", mail("one", "<1@x>"), mail("two", "<2@x>"))
    await post(
        client, "/store", {"folder": "INBOX", "uids": "2", "mode": "add", "flags": ["\\Seen"]}
    )
    program = {"key": "AND", "keys": [{"key": "UNSEEN"}, {"key": "UID", "uids": "1:9"}]}
    found = await post(client, "/search", {"folder": "INBOX", "program": program})
    assert found == {"uids": "1"}


async def test_search_over_the_work_limit_is_413_limit(
    client: Client, alice: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mailstore.db import imap_search

    monkeypatch.setattr(imap_search, "MAX_SEARCH_MESSAGES", 1)
    await append(client, "INBOX", mail("one", "<1@x>"), mail("two", "<2@x>"))
    key = {"key": "HEADER", "field": "Subject", "value": "one"}
    refused = await post(client, "/search", {"folder": "INBOX", "program": key}, 413)
    narrowed = {"key": "AND", "keys": [{"key": "UID", "uids": "1"}, key]}
    found = await post(client, "/search", {"folder": "INBOX", "program": narrowed})

    assert refused["code"] == "limit"
    assert found == {"uids": "1"}


async def test_subject_and_address_keys_read_no_message_that_holds_its_texts(
    client: Client, alice: None, pool: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mailstore.db import imap_search

    # The limit counts the messages whose octets are read: none, while the stored
    # texts (migration 0016) answer; both once they are gone (stored before 0016).
    monkeypatch.setattr(imap_search, "MAX_SEARCH_MESSAGES", 1)
    await append(client, "INBOX", mail("one", "<1@x>"), mail("two", "<2@x>"))
    program = {
        "key": "OR",
        "left": {"key": "SUBJECT", "value": "ONE"},
        "right": {"key": "FROM", "value": "nobody"},
    }
    body = {"folder": "INBOX", "program": program}
    found = await post(client, "/search", body)
    # Entries from before migration 0024 read their message's texts: still no octets.
    await pool.execute("UPDATE mailbox_entries SET imap_search = NULL")
    found_through_messages = await post(client, "/search", body)
    await pool.execute("UPDATE messages SET imap_search = NULL")
    refused = await post(client, "/search", body, 413)

    assert found == found_through_messages == {"uids": "1"}
    assert refused["code"] == "limit"


def corpus_raws() -> list[bytes]:
    """Crafted headers, and the shared corpus when the checkout has it."""
    crafted = [
        b'Subject: =?utf-8?q?Stra=C3=9Fe?=\r\nFrom: "Doe, J" <j@x.example> (work)\r\n\r\n',
        b"Subject: one\r\nSubject: two\r\nTo: g: a@b.example, c@d.example;\r\n\r\n",
        b"Subject: a\x00b\r\nCc: <u (c)@ (c) h.example>\r\n\r\n",
        b"Subject: folded\r\n line\r\nBcc: =?iso-8859-1?q?J=F6rg?= <jorg@x.example>\r\n\r\n",
        b"From: no subject <s@x.example>\r\n\r\nbody\r\n",
    ]
    corpus = CORPUS.rglob("*.eml") if CORPUS.is_dir() else []
    raws = (path.read_bytes() for path in sorted(corpus)[::4])
    return crafted + [raw for raw in raws if len(raw) < 100_000]


async def test_search_by_stored_texts_answers_as_the_octets_do(
    client: Client, alice: None, pool: Any
) -> None:
    from mailstore.imap_search import STORED_KEYS, stored_texts

    raws = corpus_raws()
    for first in range(0, len(raws), 20):
        await append(client, "INBOX", *raws[first : first + 20])
    await post(
        client,
        "/store",
        {
            "folder": "INBOX",
            "uids": ",".join(map(str, range(1, len(raws) + 1, 3))),
            "mode": "add",
            "flags": ["\\Seen"],
        },
    )
    programs = []
    for n, raw in enumerate(raws[::3]):
        for key, member in STORED_KEYS.items():
            for text in stored_texts(raw).get(member, [])[:2]:
                middle = len(text) // 2
                needle = text[middle : middle + 4 + n % 5].upper()
                programs.append({"key": key, "value": needle})
                programs.append({"key": "NOT", "arg": {"key": key, "value": needle}})
                programs.append(
                    {"key": "AND", "keys": [{"key": "UNSEEN"}, {"key": key, "value": needle}]}
                )
    # What the crafted headers hold only after decoding, parsing or in a second field.
    fixed = ["", "\u00e9", "TWO", "u@h.example", "doe, j <j@x", "g: a@b.example, c@d.example;"]
    fixed += ["J\u00d6RG <jorg@", "STRASSE", "folded\r\n line"]
    programs += [{"key": key, "value": value} for key in STORED_KEYS for value in fixed]

    async def answers() -> list[str]:
        return [
            (await post(client, "/search", {"folder": "INBOX", "program": program}))["uids"]
            for program in programs
        ]

    stored = await answers()
    # The entries' copies (migration 0024) gone, as before its backfill: the messages'.
    await pool.execute("UPDATE mailbox_entries SET imap_search = NULL")
    through_messages = await answers()
    await pool.execute("UPDATE messages SET imap_search = NULL")
    read = await answers()

    assert len(programs) > 50
    assert stored == through_messages == read
    assert len(set(stored)) > 10  # the needles tell messages apart


# -- \\Recent (views.imap.claim_recent, migration 0011; RFC 3501 §2.3.2) ---------------------


async def claim(client: Client, status: int = 200, **body: Any) -> Any:
    response = await client.post(IMAP + "/recent", json={"folder": "INBOX", **body}, headers=AUTH)
    assert response.status == status, await response.text()
    return (await response.json()).get("recent")


async def recent_status(client: Client) -> int:
    count: int = (await get(client, "/status", folder="INBOX"))["recent"]
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
    await append(client, "INBOX", mail("1"), mail("2"), mail("3"))

    looked = await claim(client, claim=False)
    before = await recent_status(client)
    first = await claim(client)
    second = await claim(client)
    await append(client, "INBOX", mail("4"))
    third = await claim(client)

    assert (looked, before) == ("1:3", 3)
    assert (first, second, third) == ("1:3", "", "4")
    assert await recent_status(client) == 0


async def test_racing_claims_never_share_a_uid(client: Client, alice: None) -> None:
    async def claims() -> list[str]:
        return [await claim(client) for _ in range(6)]

    async def appends() -> None:
        for _ in range(6):
            await append(client, "INBOX", mail("a"), mail("b"))

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


async def test_subject_search_reads_only_what_sql_cannot_rule_out(
    client: Client, alice: None
) -> None:
    # SQL rules out plain ASCII headers without the text; every other kind of header
    # is decided by the exact reading, whatever its octets hold.
    subjects = [
        b"weekly report",  # 1: found as written
        b"WEEKLY Report",  # 2: in another case
        b"=?utf-8?q?weekly_report?=",  # 3: inside an encoded word
        "\u017fweekly".encode(),  # 4: UTF-8 as it is (RFC 6532)
        b"back\\slash weekly",  # 5: a backslash, escaped by PostgreSQL
        b"lunch",  # 6: absent
        b"weekly\r\n report",  # 7: a folded line
    ]
    await append(
        client,
        "INBOX",
        *(
            mail("x", f"<{n}@x>").replace(b"Subject: x", b"Subject: " + subject)
            for n, subject in enumerate(subjects)
        ),
    )
    found = {}
    for needle in ("weekly", "WEEKLY REPORT", "\u017fweekly", "nowhere", ""):
        program = {"key": "AND", "keys": [{"key": "UNSEEN"}, {"key": "SUBJECT", "value": needle}]}
        found[needle] = (await post(client, "/search", {"folder": "INBOX", "program": program}))[
            "uids"
        ]
    header = {"key": "HEADER", "field": "Message-ID", "value": "3@X"}
    by_header = await post(client, "/search", {"folder": "INBOX", "program": header})

    assert found == {
        "weekly": "1:5,7",
        "WEEKLY REPORT": "1:3",
        "\u017fweekly": "4",
        "nowhere": "",
        "": "1:7",
    }
    assert by_header == {"uids": "4"}


async def test_an_unknown_account_is_404_without_a_folder_code(client: Client, alice: None) -> None:
    # /changes, /fetch and /raw find the account in their own query: an unknown one is
    # still told apart from an unknown folder (the gateway maps only the latter to
    # NONEXISTENT), and comes before any complaint about the request.
    nobody = "/v1/accounts/nobody@localpost.test/imap"
    for method, path, query in [
        ("GET", "/changes", {"params": {"folder": "INBOX", "modseq": "0"}}),
        ("GET", "/changes", {"params": {"folder": "INBOX", "modseq": "x"}}),
        ("GET", "/raw", {"params": {"folder": "INBOX", "uid": "1"}}),
        ("GET", "/raw", {"params": {"folder": "INBOX", "uid": "x"}}),
        ("POST", "/fetch", {"json": {"folder": "INBOX", "uids": "1"}}),
        ("POST", "/fetch", {"json": {"folder": "INBOX", "uids": "x"}}),
    ]:
        response = await client.request(method, nobody + path, headers=AUTH, **query)
        assert response.status == 404, (path, query)
        assert "code" not in await response.json(), (path, query)
    await append(client, "INBOX", mail())
    upper = f"/v1/accounts/{ALICE.upper()}/imap"
    changes = await client.get(
        upper + "/changes", params={"folder": "INBOX", "modseq": "0"}, headers=AUTH
    )
    raw = await client.get(upper + "/raw", params={"folder": "INBOX", "uid": "1"}, headers=AUTH)
    fetched = await client.post(
        upper + "/fetch", json={"folder": "INBOX", "uids": "1"}, headers=AUTH
    )
    assert (changes.status, raw.status, fetched.status) == (200, 200, 200)
    assert (await raw.read()).startswith(b"From: Carol")
    assert b'"uid": 1' in await fetched.read()
