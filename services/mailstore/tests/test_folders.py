"""The mailbox model: folders, UIDs, MODSEQs and expunge records on every path that
stores, moves, flags or deletes an entry (db.folders, db.delivery, db.changes), on a real
PostgreSQL, with parallel connections where two writers race."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import pytest

from mailstore import db
from mailstore.parsing import parse_message

ALICE, BOB = "alice@localpost.test", "bob@localpost.test"
STANDARD = [
    ("inbox", "INBOX", None),
    ("sent", "Sent", "\\Sent"),
    ("drafts", "Drafts", "\\Drafts"),
    ("trash", "Trash", "\\Trash"),
    ("junk", "Junk", "\\Junk"),
    ("archive", "Archive", "\\Archive"),
]


def mail(subject: str) -> bytes:
    return f"From: carol@example.com\r\nTo: {ALICE}\r\nSubject: {subject}\r\n\r\nHi\r\n".encode()


def new_message(subject: str, rcpt_to: list[str], submitted_by: str | None = None) -> db.NewMessage:
    raw = mail(subject)
    return db.NewMessage(
        secrets.token_hex(13).upper(),
        "carol@example.com",
        rcpt_to,
        submitted_by,
        raw,
        parse_message(raw),
    )


@pytest.fixture
async def accounts(pool: Any) -> dict[str, int]:
    return {
        address: (await db.create_account(pool, address=address, name="", password_hash="x"))["id"]
        for address in (ALICE, BOB)
    }


async def folder(pool: Any, account_id: int, folder_id: str) -> Any:
    return await pool.fetchrow(
        "SELECT * FROM folders WHERE account_id = $1 AND id = $2", account_id, folder_id
    )


async def entries(pool: Any, account_id: int, folder_id: str) -> list[Any]:
    """(id, uid, modseq) of a folder's entries, in id order."""
    return list(
        await pool.fetch(
            """
            SELECT id, uid, modseq FROM mailbox_entries
            WHERE account_id = $1 AND folder_id = $2 ORDER BY id
            """,
            account_id,
            folder_id,
        )
    )


async def expunged(pool: Any, account_id: int, folder_id: str) -> list[tuple[int, int]]:
    rows = await pool.fetch(
        "SELECT uid, modseq FROM expunged WHERE account_id = $1 AND folder_id = $2 ORDER BY uid",
        account_id,
        folder_id,
    )
    return [(row["uid"], row["modseq"]) for row in rows]


async def test_a_new_account_has_the_six_standard_folders(
    pool: Any, accounts: dict[str, int]
) -> None:
    rows = await pool.fetch(
        "SELECT * FROM folders WHERE account_id = $1 ORDER BY uidvalidity", accounts[ALICE]
    )

    assert [(r["id"], r["name"], r["special_use"]) for r in rows] == STANDARD
    assert all(r["uidnext"] == 1 and r["highestmodseq"] == 1 for r in rows)
    subscribed = await pool.fetch(
        "SELECT name FROM subscriptions WHERE account_id = $1", accounts[ALICE]
    )
    assert {r["name"] for r in subscribed} == {name for _, name, _ in STANDARD}
    validities = await pool.fetch("SELECT uidvalidity FROM folders")
    assert len({r["uidvalidity"] for r in validities}) == len(validities) == 12
    assert all(0 < r["uidvalidity"] < 2**32 for r in validities)


async def test_a_re_created_folder_gets_a_new_uidvalidity(
    pool: Any, accounts: dict[str, int]
) -> None:
    before = (await folder(pool, accounts[ALICE], "junk"))["uidvalidity"]
    await pool.execute("DELETE FROM folders WHERE account_id = $1 AND id = 'junk'", accounts[ALICE])
    await pool.execute(
        "INSERT INTO folders (account_id, id, name) VALUES ($1, 'junk', 'Junk')", accounts[ALICE]
    )

    assert (await folder(pool, accounts[ALICE], "junk"))["uidvalidity"] > before


async def test_stored_entries_get_uids_in_delivery_order_and_the_folder_moves_on(
    pool: Any, accounts: dict[str, int]
) -> None:
    outcomes = await db.store_messages(
        pool, [new_message(s, [ALICE, BOB]) for s in ("one", "two", "three")]
    )
    later = await db.store_messages(pool, [new_message("four", [ALICE])])

    alice = await entries(pool, accounts[ALICE], "inbox")
    assert [row["uid"] for row in alice] == [1, 2, 3, 4]
    assert [e.uid for o in outcomes for e in o.entries if e.address == ALICE] == [1, 2, 3]
    assert later[0].entries[0].uid == 4
    inbox = await folder(pool, accounts[ALICE], "inbox")
    assert inbox["uidnext"] == 5
    # One MODSEQ per transaction and folder.
    assert [row["modseq"] for row in alice] == [2, 2, 2, 3]
    assert inbox["highestmodseq"] == 3
    assert [row["uid"] for row in await entries(pool, accounts[BOB], "inbox")] == [1, 2, 3]


async def test_a_message_to_oneself_is_in_inbox_and_sent_each_with_its_uid(
    pool: Any, accounts: dict[str, int]
) -> None:
    (outcome,) = await db.store_messages(pool, [new_message("me", [ALICE], submitted_by=ALICE)])

    assert sorted((e.folder, e.uid) for e in outcome.entries) == [("inbox", 1), ("sent", 1)]


async def test_a_recipient_named_twice_in_the_envelope_gets_one_entry(
    pool: Any, accounts: dict[str, int]
) -> None:
    (outcome,) = await db.store_messages(pool, [new_message("twice", [ALICE, BOB, ALICE])])

    assert sorted(e.address for e in outcome.entries) == [ALICE, BOB]
    assert (await folder(pool, accounts[ALICE], "inbox"))["uidnext"] == 2


async def test_two_consumers_storing_into_the_same_folders_never_share_a_uid(
    pool: Any, accounts: dict[str, int]
) -> None:
    # Batches naming the two accounts in both orders: folder locks taken in batch order
    # would deadlock two of them.
    batches = [
        [new_message(f"{n}-{k}", [ALICE, BOB] if n % 2 else [BOB, ALICE]) for k in range(5)]
        for n in range(16)
    ]

    await asyncio.gather(*(db.store_messages(pool, batch) for batch in batches))

    for account_id in accounts.values():
        rows = await entries(pool, account_id, "inbox")
        # Under the folder's lock, a later transaction takes both the higher UIDs and the
        # higher entry ids: in id order UIDs rise strictly, from 1 without a gap.
        assert [row["uid"] for row in rows] == list(range(1, 81))
        modseqs = [row["modseq"] for row in rows]
        assert modseqs == sorted(modseqs)
        assert len(set(modseqs)) == len(batches)
        inbox = await folder(pool, account_id, "inbox")
        assert inbox["uidnext"] == 81
        assert inbox["highestmodseq"] == max(modseqs)


async def test_redelivery_racing_the_first_copy_stores_no_second_entry(
    pool: Any, accounts: dict[str, int]
) -> None:
    message = new_message("raced", [ALICE])
    # Another replica has inserted the same gateway id and not committed yet: this
    # store's SELECT does not see it, and its INSERT waits for that commit.
    async with pool.acquire() as other:
        transaction = other.transaction()
        await transaction.start()
        await other.execute(
            """
            INSERT INTO messages (id, mail_from, rcpt_to, raw, size, search)
            VALUES ($1, 'carol@example.com', '{}', 'raw', 3, ''::tsvector)
            """,
            message.gateway_id,
        )
        racing = asyncio.create_task(db.store_messages(pool, [message]))
        await waiting_for_a_lock(pool)
        await transaction.commit()
    (outcome,) = await racing

    assert not outcome.stored
    assert await entries(pool, accounts[ALICE], "inbox") == []


async def waiting_for_a_lock(pool: Any) -> None:
    """Until a session of this database waits for a lock (bounded, for a broken test)."""
    query = """
        SELECT count(*) FROM pg_stat_activity
        WHERE datname = current_database() AND wait_event_type = 'Lock'
    """
    async with asyncio.timeout(30):
        while not await pool.fetchval(query):  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def test_trash_and_restore_are_moves_with_new_uids_and_expunge_records(
    pool: Any, accounts: dict[str, int]
) -> None:
    alice = accounts[ALICE]
    await db.store_messages(pool, [new_message(s, [ALICE]) for s in ("one", "two", "three")])
    one, two, _ = [row["id"] for row in await entries(pool, alice, "inbox")]

    trashed = await db.move_many_to_trash(pool, account_id=alice, entry_ids=[two, one])

    assert trashed.changed == 2
    assert [(r["id"], r["uid"]) for r in await entries(pool, alice, "trash")] == [
        (one, 1),
        (two, 2),
    ]
    inbox = await folder(pool, alice, "inbox")
    assert await expunged(pool, alice, "inbox") == [(1, inbox["highestmodseq"]), (2, 3)]
    kinds = sorted((c.folder_id, c.kind, c.uid) for c in trashed.changes)
    assert kinds == [
        ("inbox", db.EXPUNGE, 1),
        ("inbox", db.EXPUNGE, 2),
        ("trash", db.EXISTS, 1),
        ("trash", db.EXISTS, 2),
    ]

    restored = await db.restore(pool, account_id=alice, entry_id=one)

    assert restored.changed == 1
    # Back in the Inbox under a new UID: UIDs are never reused (RFC 3501 §2.3.1.1).
    assert {r["id"]: r["uid"] for r in await entries(pool, alice, "inbox")}[one] == 4
    assert [uid for uid, _ in await expunged(pool, alice, "trash")] == [1]
    assert (await folder(pool, alice, "inbox"))["uidnext"] == 5


async def test_trashing_an_entry_already_in_trash_changes_nothing(
    pool: Any, accounts: dict[str, int]
) -> None:
    alice = accounts[ALICE]
    (outcome,) = await db.store_messages(pool, [new_message("one", [ALICE])])
    entry = outcome.entries[0].id
    await db.move_to_trash(pool, account_id=alice, entry_id=entry)
    trash = await folder(pool, alice, "trash")

    again = await db.move_to_trash(pool, account_id=alice, entry_id=entry)

    assert (again.matched, again.changes) == (1, [])
    assert await folder(pool, alice, "trash") == trash


async def test_deleting_forever_records_the_expunge_and_every_flag_change_a_modseq(
    pool: Any, accounts: dict[str, int]
) -> None:
    alice = accounts[ALICE]
    await db.store_messages(pool, [new_message(s, [ALICE]) for s in ("one", "two")])
    one, two = [row["id"] for row in await entries(pool, alice, "inbox")]

    read = await db.set_read_many(pool, account_id=alice, entry_ids=[one, two], read=True)
    unchanged = await db.set_read(pool, account_id=alice, entry_id=one, read=True)
    deleted = await db.delete_forever(pool, account_id=alice, entry_id=two)

    assert [(c.kind, c.uid, c.modseq) for c in read.changes] == [
        (db.FLAGS, 1, 3),
        (db.FLAGS, 2, 3),
    ]
    assert (unchanged.matched, unchanged.changes) == (1, [])
    assert [(c.kind, c.uid, c.modseq) for c in deleted.changes] == [(db.EXPUNGE, 2, 4)]
    assert await expunged(pool, alice, "inbox") == [(2, 4)]
    assert [(r["uid"], r["modseq"]) for r in await entries(pool, alice, "inbox")] == [(1, 3)]
    assert (await folder(pool, alice, "inbox"))["highestmodseq"] == 4


async def test_empty_trash_and_the_purge_record_what_they_expunge(
    pool: Any, accounts: dict[str, int]
) -> None:
    for address, account_id in accounts.items():
        await db.store_messages(pool, [new_message(s, [address]) for s in ("one", "two")])
        ids = [row["id"] for row in await entries(pool, account_id, "inbox")]
        await db.move_many_to_trash(pool, account_id=account_id, entry_ids=ids)
    await pool.execute("UPDATE mailbox_entries SET trashed_at = now() - interval '40 days'")

    emptied = await db.empty_trash(pool, account_id=accounts[ALICE])
    purged = await db.purge_trash(pool, days=30)

    assert emptied.matched == 2
    assert {(c.account_id, c.kind) for c in purged} == {(accounts[BOB], db.EXPUNGE)}
    for account_id in accounts.values():
        assert [uid for uid, _ in await expunged(pool, account_id, "trash")] == [1, 2]
    assert await pool.fetchval("SELECT count(*) FROM mailbox_entries") == 0


async def test_moves_racing_deliveries_keep_every_folder_strictly_increasing(
    pool: Any, accounts: dict[str, int]
) -> None:
    alice = accounts[ALICE]
    await db.store_messages(pool, [new_message(f"old {k}", [ALICE]) for k in range(40)])
    ids = [row["id"] for row in await entries(pool, alice, "inbox")]

    await asyncio.gather(
        *(db.store_messages(pool, [new_message(f"new {k}", [ALICE])]) for k in range(10)),
        *(
            db.move_many_to_trash(pool, account_id=alice, entry_ids=ids[k : k + 4])
            for k in range(0, 40, 4)
        ),
        *(db.set_read(pool, account_id=alice, entry_id=ids[k], read=True) for k in range(1, 40, 4)),
    )

    for folder_id in ("inbox", "trash"):
        rows = await entries(pool, alice, folder_id)
        uids = [row["uid"] for row in sorted(rows, key=lambda row: row["modseq"])]
        assert len(set(uids)) == len(uids)
        state = await folder(pool, alice, folder_id)
        assert all(uid < state["uidnext"] for uid in uids)
        assert all(row["modseq"] <= state["highestmodseq"] for row in rows)
    gone = await expunged(pool, alice, "inbox")
    assert len(gone) == 40
    assert len({modseq for _, modseq in gone}) == 10
