from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from mailstore import db, maintenance
from mailstore.db.conversations import CONVERSATION_INDEXES
from mailstore.db.delivery import insert_messages
from mailstore.imap_search import stored_texts
from mailstore.main import ensure_database
from mailstore.migrations import apply_migrations, load_migrations
from mailstore.parsing import parse_message as parse
from mailstore.testing import with_database

SERVER_URL = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture
async def empty_database() -> AsyncIterator[str]:
    """A database of its own that does not exist yet; dropped afterwards."""
    name = f"mailstore_mig_{secrets.token_hex(6)}"
    try:
        yield with_database(SERVER_URL, name)
    finally:
        con = await asyncpg.connect(SERVER_URL)
        try:
            await db.drop_database(con, name=name)
        finally:
            await con.close()


async def _pool(url: str) -> Any:
    return await asyncpg.create_pool(url, min_size=1, max_size=2, init=db.init_connection)


def test_migrations_are_numbered_from_one_without_gaps() -> None:
    versions = [migration.version for migration in load_migrations()]

    assert versions == list(range(1, len(versions) + 1))


async def test_missing_database_is_created_then_migrations_apply_once(empty_database: str) -> None:
    await ensure_database(empty_database)
    await ensure_database(empty_database)  # exists now: nothing to do
    pool = await _pool(empty_database)
    try:
        first = await apply_migrations(pool)
        second = await apply_migrations(pool)
        recorded = await pool.fetch("SELECT version FROM schema_migrations ORDER BY version")
    finally:
        await pool.close()

    assert first == [migration.version for migration in load_migrations()]
    assert second == []
    assert [row["version"] for row in recorded] == first


async def test_concurrent_runners_apply_each_migration_exactly_once(empty_database: str) -> None:
    await ensure_database(empty_database)
    pools = [await _pool(empty_database) for _ in range(4)]
    try:
        results = await asyncio.gather(*(apply_migrations(pool) for pool in pools))
        count = await pools[0].fetchval("SELECT count(*) FROM schema_migrations")
    finally:
        await asyncio.gather(*(pool.close() for pool in pools))

    applied = [versions for versions in results if versions]
    assert len(applied) == 1
    assert count == len(load_migrations())


# -- 0007: UIDs for the entries of an existing store ------------------------------------------

# (account, folder, read) of each old entry, in id order; created_at runs against the ids
# in places (and ties), so that arrival order is not id order.
OLD_ENTRIES = [
    ("alice", "inbox", False),
    ("alice", "inbox", True),
    ("alice", "trash", True),
    ("bob", "inbox", False),
    ("alice", "inbox", False),
    ("bob", "sent", True),
    ("alice", "inbox", True),
    ("alice", "trash", False),
    ("alice", "inbox", False),
    ("bob", "inbox", True),
    ("alice", "inbox", False),
]
# Seconds after the epoch of each entry's created_at, same order.
ARRIVALS = [50, 10, 40, 30, 10, 20, 70, 5, 30, 10, 60]


async def old_store(url: str) -> Any:
    """A store at schema 0006 holding OLD_ENTRIES: the migration's starting point."""
    await ensure_database(url)
    pool = await _pool(url)
    await apply_migrations(pool, upto=6)
    await pool.execute(
        "INSERT INTO accounts (address, password_hash) VALUES ('alice@x.test', 'h'), "
        "('bob@x.test', 'h')"
    )
    for n, ((who, folder, read), at) in enumerate(zip(OLD_ENTRIES, ARRIVALS, strict=True)):
        await pool.execute(
            """
            INSERT INTO messages (id, mail_from, rcpt_to, raw, size, search)
            VALUES ($1, 'carol@example.com', '{}', 'raw', 3, ''::tsvector)
            """,
            f"M{n:02d}",
        )
        await pool.execute(
            """
            INSERT INTO mailbox_entries
                (account_id, message_id, role, folder, folder_before_trash, read, created_at)
            SELECT id, $2, CASE $3 WHEN 'sent' THEN 'sent' ELSE 'received' END, $3,
                   CASE $3 WHEN 'trash' THEN 'inbox' END, $4, to_timestamp($5)
            FROM accounts WHERE address = $1
            """,
            f"{who}@x.test",
            f"M{n:02d}",
            folder,
            read,
            at,
        )
    return pool


async def numbering(pool: Any) -> dict[tuple[str, str], list[int | None]]:
    """Per (account, folder), the UIDs of the entries from OLD_ENTRIES in arrival order."""
    rows = await pool.fetch(
        """
        SELECT a.address, e.folder_id, e.uid FROM mailbox_entries e
        JOIN accounts a ON a.id = e.account_id WHERE e.message_id LIKE 'M%'
        ORDER BY e.created_at, e.id
        """
    )
    found: dict[tuple[str, str], list[int | None]] = {}
    for row in rows:
        found.setdefault((row["address"].split("@")[0], row["folder_id"]), []).append(row["uid"])
    return found


async def run_backfill(pool: Any, *, batch: int, step: Any = db.number_old_entries) -> int:
    """Run a backfill's batches (``step``) until it answers None; how many rows it did."""
    numbered = 0
    while (done := await step(pool, batch=batch)) is not None:
        numbered += done
    return numbered


async def test_0007_numbers_existing_entries_in_arrival_order_without_rewriting_them(
    empty_database: str,
) -> None:
    pool = await old_store(empty_database)
    try:
        before = await pool.fetch("SELECT id, read, folder FROM mailbox_entries ORDER BY id")
        later = [m.version for m in load_migrations() if m.version > 6]
        assert await apply_migrations(pool) == later
        folders = await pool.fetch(
            "SELECT a.address, f.id, f.uidnext FROM folders f"
            " JOIN accounts a ON a.id = f.account_id"
        )
        after = await pool.fetch("SELECT id, seen, folder_id FROM mailbox_entries ORDER BY id")
        waiting = await pool.fetchval("SELECT count(*) FROM uid_backfill")
        unnumbered = await pool.fetchval("SELECT count(*) FROM mailbox_entries WHERE uid IS NULL")

        numbered = await run_backfill(pool, batch=2)
        finished = await db.finish_uids(pool)
        uids = await numbering(pool)
        uid_nullable = await pool.fetchval(
            "SELECT NOT attnotnull FROM pg_attribute"
            " WHERE attrelid = 'mailbox_entries'::regclass AND attname = 'uid'"
        )
    finally:
        await pool.close()

    assert [tuple(row) for row in before] == [tuple(row) for row in after]
    uidnext = {(r["address"].split("@")[0], r["id"]): r["uidnext"] for r in folders}
    assert len(uidnext) == 12
    assert uidnext[("alice", "inbox")] == 7
    assert uidnext[("alice", "trash")] == 3
    assert uidnext[("alice", "drafts")] == 1
    assert (waiting, unnumbered, numbered) == (4, 11, 11)
    assert uids == {
        ("alice", "inbox"): [1, 2, 3, 4, 5, 6],
        ("alice", "trash"): [1, 2],
        ("bob", "inbox"): [1, 2],
        ("bob", "sent"): [1],
    }
    assert finished
    assert not uid_nullable


async def test_0007_entries_stored_and_moved_before_the_backfill_keep_their_uids(
    empty_database: str,
) -> None:
    pool = await old_store(empty_database)
    try:
        await apply_migrations(pool)
        alice = await pool.fetchval("SELECT id FROM accounts WHERE address = 'alice@x.test'")
        # The oldest Inbox entry (M01, at 10 s, before M04 at the same second) to Trash.
        oldest = await pool.fetchval("SELECT id FROM mailbox_entries WHERE message_id = 'M01'")
        await db.move_to_trash(pool, account_id=alice, entry_id=oldest)
        raw = b"From: carol@example.com\r\nSubject: new\r\n\r\nHi\r\n"
        (new,) = await db.store_messages(
            pool,
            [db.NewMessage("NEW", "carol@example.com", ["alice@x.test"], None, raw, parse(raw))],
        )
        await run_backfill(pool, batch=2)
        uids = await numbering(pool)
        moved = await pool.fetchval("SELECT uid FROM mailbox_entries WHERE id = $1", oldest)
        expunged = await pool.fetchval("SELECT count(*) FROM expunged")
    finally:
        await pool.close()

    assert new.entries[0].uid == 7
    assert moved == 3  # above Trash's two old entries
    # M01 left the Inbox before it was numbered: never seen there by IMAP, nothing to
    # report as expunged; the old ones left take 1..5, the new one kept 7.
    assert uids[("alice", "inbox")] == [1, 2, 3, 4, 5]
    assert uids[("alice", "trash")] == [1, 3, 2]  # arrival order: M07 (5 s), M01, M02
    assert expunged == 0


async def test_0007_backfill_is_idempotent_and_safe_with_two_runners(empty_database: str) -> None:
    pool = await old_store(empty_database)
    await apply_migrations(pool)
    other = await _pool(empty_database)
    try:
        counts = await asyncio.gather(run_backfill(pool, batch=1), run_backfill(other, batch=1))
        again = await run_backfill(pool, batch=1)
        finished = await asyncio.gather(db.finish_uids(pool), db.finish_uids(other))
        finished_later = await db.finish_uids(other)
        uids = await numbering(pool)
        index = await pool.fetchval(
            "SELECT indisvalid AND indisunique FROM pg_index"
            " WHERE indexrelid = 'mailbox_entries_uid_idx'::regclass"
        )
    finally:
        await asyncio.gather(pool.close(), other.close())

    assert sum(counts) == 11
    assert again == 0
    assert uids[("alice", "inbox")] == [1, 2, 3, 4, 5, 6]
    # One of them built the index; the other found the lock taken, or the work done.
    assert True in finished
    assert finished_later
    assert index


async def test_0007_backfill_leaves_a_folder_another_runner_holds_alone(
    empty_database: str,
) -> None:
    pool = await old_store(empty_database)
    await apply_migrations(pool)
    try:
        async with pool.acquire() as other, other.transaction():
            # Another replica in the middle of a batch of Alice's Inbox.
            await other.execute(
                "SELECT 1 FROM uid_backfill"
                " WHERE folder_id = 'inbox' AND account_id = (SELECT min(id) FROM accounts)"
                " FOR UPDATE"
            )
            async with asyncio.timeout(10):
                numbered = await run_backfill(pool, batch=100)
        uids = await numbering(pool)
    finally:
        await pool.close()

    assert numbered == 5
    assert set(uids[("alice", "inbox")]) == {None}
    assert uids[("bob", "inbox")] == [1, 2]


# -- 0012: subscriptions by name --------------------------------------------------------------


async def test_0012_keeps_every_subscription_and_new_accounts_get_the_six(
    empty_database: str,
) -> None:
    await ensure_database(empty_database)
    pool = await _pool(empty_database)
    try:
        await apply_migrations(pool, upto=11)
        await pool.execute(
            "INSERT INTO accounts (address, password_hash) VALUES ('alice@x.test', 'h'), "
            "('bob@x.test', 'h')"
        )
        alice = await pool.fetchval("SELECT id FROM accounts WHERE address = 'alice@x.test'")
        await pool.execute(
            """
            INSERT INTO folders (account_id, id, name, subscribed)
            VALUES ($1, 'f1', 'Work', false), ($1, 'f2', 'Work/Old', true)
            """,
            alice,
        )
        await pool.execute(
            "UPDATE folders SET subscribed = false WHERE account_id = $1 AND name = 'Junk'", alice
        )
        assert await apply_migrations(pool) == [
            m.version for m in load_migrations() if m.version > 11
        ]
        rows = await pool.fetch(
            "SELECT a.address, s.name FROM subscriptions s JOIN accounts a ON a.id = s.account_id"
        )
        await pool.execute(
            "INSERT INTO accounts (address, password_hash) VALUES ('carol@x.test', 'h')"
        )
        carol = await pool.fetch(
            "SELECT s.name FROM subscriptions s JOIN accounts a ON a.id = s.account_id"
            " WHERE a.address = 'carol@x.test'"
        )
        column = await pool.fetchval(
            "SELECT count(*) FROM pg_attribute WHERE attrelid = 'folders'::regclass"
            " AND attname = 'subscribed' AND NOT attisdropped"
        )
    finally:
        await pool.close()

    six = {"INBOX", "Sent", "Drafts", "Trash", "Junk", "Archive"}
    found: dict[str, set[str]] = {}
    for row in rows:
        found.setdefault(row["address"], set()).add(row["name"])
    assert found == {
        "alice@x.test": six - {"Junk"} | {"Work/Old"},
        "bob@x.test": six,
    }
    assert {row["name"] for row in carol} == six
    assert column == 0


async def test_0016_backfill_stores_the_search_texts_of_older_messages(
    empty_database: str,
) -> None:
    pool = await old_store(empty_database)
    try:
        header = "Subject: =?utf-8?q?N=C2=B0_{0}?=\r\nTo: <u{0}@x.test>\r\n\r\nhi\r\n"
        raws = {f"M{n:02d}": header.format(n).encode() for n in range(len(OLD_ENTRIES))}
        for message_id, raw in raws.items():
            await pool.execute("UPDATE messages SET raw = $2 WHERE id = $1", message_id, raw)
        await apply_migrations(pool)
        waiting = await pool.fetchval("SELECT count(*) FROM imap_search_backfill")
        # One described since (as delivery and APPEND do) is left as it is.
        await pool.execute(
            """UPDATE messages SET imap_search = '{"subject": ["kept"]}' WHERE id = 'M03'"""
        )
        described = await run_backfill(pool, batch=4, step=db.describe_old_messages)
        again = await db.describe_old_messages(pool)
        stored = dict(await pool.fetch("SELECT id, imap_search FROM messages"))
        left = await pool.fetchval("SELECT count(*) FROM imap_search_backfill")
    finally:
        await pool.close()

    assert (waiting, described, again, left) == (1, len(raws) - 1, None, 0)
    assert stored.pop("M03") == {"subject": ["kept"]}
    assert stored == {i: stored_texts(raw) for i, raw in raws.items() if i != "M03"}
    assert stored["M00"]["subject"] == ["n\u00b0 0"]


async def test_0024_copies_the_search_texts_onto_older_entries_once_messages_have_them(
    empty_database: str,
) -> None:
    pool = await old_store(empty_database)
    try:
        await apply_migrations(pool)
        # Entries from before UIDs and messages from before 0016 first: no entry walk
        # until every entry is numbered and every message described.
        early = await db.copy_entry_texts(pool)
        await run_backfill(pool, batch=4)
        unnumbered_done = await db.copy_entry_texts(pool)
        described = await run_backfill(pool, batch=4, step=db.describe_old_messages)
        before = await pool.fetchval(
            "SELECT count(*) FROM mailbox_entries WHERE imap_search IS NOT NULL"
        )
        copied = await run_backfill(pool, batch=3, step=db.copy_entry_texts)
        again = await db.copy_entry_texts(pool)
        differing = await pool.fetchval(
            """SELECT count(*) FROM mailbox_entries e JOIN messages m ON m.id = e.message_id
               WHERE e.imap_search IS DISTINCT FROM m.imap_search OR e.imap_search IS NULL"""
        )
        left = await pool.fetchval("SELECT count(*) FROM entry_search_backfill")
    finally:
        await pool.close()

    assert early is None
    assert unnumbered_done is None
    assert described == len(OLD_ENTRIES)
    assert (before, copied, again, differing, left) == (0, len(OLD_ENTRIES), None, 0, 0)


async def test_0025_a_store_with_mail_gets_the_modseq_index_from_maintenance(
    empty_database: str,
) -> None:
    pool = await old_store(empty_database)
    index = "SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass($1)"
    try:
        await apply_migrations(pool)
        # A plain CREATE INDEX would have blocked every write while it read the store.
        after_migration = await pool.fetchval(index, db.backfill.MODSEQ_INDEX)
        built = await db.build_modseq_index(pool)
        valid = await pool.fetchval(index, db.backfill.MODSEQ_INDEX)
        again = await db.build_modseq_index(pool)
    finally:
        await pool.close()

    assert after_migration is None
    assert (built, valid, again) == (True, True, True)


async def test_0025_a_new_store_has_the_modseq_index_at_once(empty_database: str) -> None:
    await ensure_database(empty_database)
    pool = await _pool(empty_database)
    try:
        await apply_migrations(pool)
        valid = await pool.fetchval(
            "SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass($1)",
            db.backfill.MODSEQ_INDEX,
        )
    finally:
        await pool.close()

    assert valid is True


async def test_0016_a_new_store_has_nothing_to_backfill(empty_database: str) -> None:
    await ensure_database(empty_database)
    pool = await _pool(empty_database)
    try:
        await apply_migrations(pool)
        nothing = await db.describe_old_messages(pool)
    finally:
        await pool.close()

    assert nothing is None


def threaded(n: int, refs: str = "") -> db.NewMessage:
    references = f"References: {refs}\r\n" if refs else ""
    raw = (
        f"From: carol@example.com\r\nTo: alice@x.test\r\nSubject: s\r\n"
        f"Message-ID: <{n}@x>\r\n{references}\r\nHi\r\n"
    ).encode()
    return db.NewMessage(f"G{n:02d}", "carol@example.com", ["alice@x.test"], None, raw, parse(raw))


async def _apply_early(pool: Any, name: str) -> None:
    """Apply the later migration ``name`` ahead of its turn: today's store_messages reads
    its tables (lists and catch-alls), whatever older schema a test stores old mail in."""
    (migration,) = [m for m in load_migrations() if m.name == name]
    async with pool.acquire() as con, con.transaction():
        await con.execute(migration.sql)
        await db.record_migration(con, version=migration.version, name=migration.name)


async def test_0018_labels_old_entries_after_building_its_indexes_concurrently(
    empty_database: str,
) -> None:
    await ensure_database(empty_database)
    pool = await _pool(empty_database)
    try:
        await apply_migrations(pool, upto=17)
        await _apply_early(pool, "lists")
        await pool.execute(
            "INSERT INTO accounts (address, password_hash) VALUES ('alice@x.test', 'h')"
        )
        # A reply stored before its parent, then the parent: old mail, no labels yet,
        # stored as the code of schema 17 did (today's names a conversation column).
        async with pool.acquire() as con:
            await insert_messages(con, [threaded(2, "<1@x>"), threaded(1)])
            for uid, message_id in enumerate(["G02", "G01"], start=1):
                await con.execute(
                    "INSERT INTO mailbox_entries (account_id, message_id, role, folder_id, uid)"
                    " SELECT id, $1, 'received', 'inbox', $2 FROM accounts",
                    message_id,
                    uid,
                )
            await con.execute("UPDATE folders SET uidnext = 3 WHERE id = 'inbox'")
        await apply_migrations(pool)
        indexes = "SELECT count(*) FROM pg_indexes WHERE indexname = any($1::text[])"
        names = list(CONVERSATION_INDEXES)
        assert await pool.fetchval(indexes, names) == 0
        # Until the indexes exist, new entries wait for the backfill too.
        await db.store_messages(pool, [threaded(3, "<1@x> <2@x>")])
        labels = "SELECT conversation FROM mailbox_entries ORDER BY id"
        assert [r["conversation"] for r in await pool.fetch(labels)] == [None, None, None]

        assert await maintenance.label_old_entries(pool) == 3

        assert await pool.fetchval(indexes, names) == 3
        assert [r["conversation"] for r in await pool.fetch(labels)] == ["<1@x>"] * 3
        assert await pool.fetchval("SELECT count(*) FROM conversation_backfill") == 0
        await db.store_messages(pool, [threaded(4, "<1@x>")])
        assert (await pool.fetch(labels))[-1]["conversation"] == "<1@x>"
        assert await maintenance.label_old_entries(pool) == 0
    finally:
        await pool.close()
