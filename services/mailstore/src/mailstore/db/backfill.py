"""Numbering the entries from before UIDs (migration 0007), online, in small batches.

Each folder listed in ``uid_backfill`` gives its old entries (uid NULL) the UIDs 1..n in
arrival order (created_at, id); the migration set its UIDNEXT past n, so entries stored
or moved in meanwhile already hold higher ones. A batch is one short transaction: the
folder's backfill row is taken with SKIP LOCKED, so two replicas number different folders
side by side and a crashed batch is simply rolled back and done again. Entry rows are
locked in id order, as the paths that move them lock them (db.folders), so a batch and a
move wait for each other instead of deadlocking; an old entry moved out meanwhile took a
UID in its new folder and is skipped here, leaving a gap (UIDs need not be dense, RFC
3501 §2.3.1.1).

Once no folder is left, :func:`finish_uids` builds the unique (account, folder, uid)
index CONCURRENTLY (impossible inside the migration runner's transaction) and makes uid
NOT NULL using the CHECK the migration added, so that the ALTER scans nothing under its
short exclusive lock.

:func:`describe_old_messages` fills ``messages.imap_search`` (migration 0016) of the
messages stored before it, in the same way: one short transaction per batch walks the
message ids on from ``imap_search_backfill.after_id`` (taken with SKIP LOCKED, so one
replica walks while another skips), locks the batch's rows in id order and describes
those still without texts, reading only their headers; the row is deleted at the end.

:func:`copy_entry_texts` then copies those texts onto the entries from before migration
0024 (entries made since copy them when they are made), walking the entry ids on from
``entry_search_backfill.after_id`` the same way. It starts only once every message has
its texts and every entry its UID, so that no entry it passes is left without them.

:func:`build_modseq_index` builds migration 0025's (account, folder, modseq) index
CONCURRENTLY on a store that had mail when the migration ran.
"""

from __future__ import annotations

import asyncio

import asyncpg

from mailstore.db.connection import Connection, Pool
from mailstore.db.imap_search import whole_headers
from mailstore.imap_search import HEADER_END, stored_texts

# Old entries numbered per transaction: a short transaction holds few row locks.
BACKFILL_BATCH = 1000
# Messages described per transaction: each is a header read and parsed in Python.
DESCRIBE_BATCH = 500
# Entries given their message's SEARCH texts per transaction: one UPDATE, no parsing.
COPY_TEXTS_BATCH = 2000
# pg_advisory_lock key of build_modseq_index ("mseq" in ASCII): one replica builds it.
MODSEQ_LOCK_KEY = 0x6D736571
MODSEQ_INDEX = "mailbox_entries_modseq_idx"
# pg_advisory_lock key of finish_uids ("uidx" in ASCII): one replica builds the index.
FINISH_LOCK_KEY = 0x75696478
# The exclusive lock of SET NOT NULL waits at most this long behind readers (and makes
# every new query wait behind it meanwhile); the next maintenance run tries again.
FINISH_LOCK_TIMEOUT = "2s"
UID_INDEX = "mailbox_entries_uid_idx"
_VALIDATIONS = (
    "ALTER TABLE mailbox_entries VALIDATE CONSTRAINT mailbox_entries_folder_fkey",
    "ALTER TABLE mailbox_entries VALIDATE CONSTRAINT mailbox_entries_restore_folder_fkey",
    "ALTER TABLE mailbox_entries VALIDATE CONSTRAINT mailbox_entries_uid_not_null",
)


async def number_old_entries(pool: Pool, *, batch: int = BACKFILL_BATCH) -> int | None:
    """Number one batch of one folder's old entries: how many, or None when no folder is
    left that another runner is not working on."""
    async with pool.acquire() as con, con.transaction():
        folder = await con.fetchrow(
            """
            SELECT account_id, folder_id, next_uid, after_created_at, after_id
            FROM uid_backfill ORDER BY account_id, folder_id LIMIT 1 FOR UPDATE SKIP LOCKED
            """
        )
        if folder is None:
            return None
        account_id, folder_id = folder["account_id"], folder["folder_id"]
        candidates = await con.fetch(
            """
            SELECT id, created_at FROM mailbox_entries
            WHERE account_id = $1 AND folder_id = $2 AND (created_at, id) > ($3, $4)
            ORDER BY created_at, id LIMIT $5
            """,
            account_id,
            folder_id,
            folder["after_created_at"],
            folder["after_id"],
            batch,
        )
        numbered = await _number(con, folder, [row["id"] for row in candidates])
        if len(candidates) < batch:
            await con.execute(
                "DELETE FROM uid_backfill WHERE account_id = $1 AND folder_id = $2",
                account_id,
                folder_id,
            )
        else:
            await con.execute(
                """
                UPDATE uid_backfill SET next_uid = next_uid + $3, after_created_at = $4,
                    after_id = $5
                WHERE account_id = $1 AND folder_id = $2
                """,
                account_id,
                folder_id,
                numbered,
                candidates[-1]["created_at"],
                candidates[-1]["id"],
            )
    return numbered


async def _number(con: Connection, folder: asyncpg.Record, ids: list[int]) -> int:
    """Give the old ones among ``ids`` (still in the folder, uid NULL) their UIDs."""
    old = await con.fetch(
        """
        SELECT id, created_at FROM mailbox_entries
        WHERE id = any($1::bigint[]) AND account_id = $2 AND folder_id = $3 AND uid IS NULL
        ORDER BY id FOR UPDATE
        """,
        ids,
        folder["account_id"],
        folder["folder_id"],
    )
    old = sorted(old, key=lambda row: (row["created_at"], row["id"]))
    first = folder["next_uid"]
    await con.execute(
        """
        UPDATE mailbox_entries e SET uid = u.uid
        FROM unnest($1::bigint[], $2::bigint[]) AS u(id, uid) WHERE e.id = u.id
        """,
        [row["id"] for row in old],
        list(range(first, first + len(old))),
    )
    return len(old)


async def finish_uids(pool: Pool) -> bool:
    """Once every old entry is numbered: the unique UID index and uid NOT NULL. True when
    the schema is (now) finished; False while entries wait, another replica is at it, or
    the exclusive lock was not granted in time."""
    async with pool.acquire() as con:
        if not await con.fetchval("SELECT pg_try_advisory_lock($1)", FINISH_LOCK_KEY):
            return False
        try:
            return await _finish(con)
        finally:
            await con.execute("SELECT pg_advisory_unlock($1)", FINISH_LOCK_KEY)


async def uids_finished(con: Connection) -> bool:
    finished: bool = await con.fetchval(
        """
        SELECT attnotnull FROM pg_attribute
        WHERE attrelid = 'mailbox_entries'::regclass AND attname = 'uid'
        """
    )
    return finished


async def _finish(con: Connection) -> bool:
    if await uids_finished(con):
        return True
    if await con.fetchval("SELECT EXISTS (SELECT 1 FROM uid_backfill)"):
        return False
    # A CONCURRENTLY build that failed (or was killed) leaves an invalid index behind.
    if await con.fetchval(
        "SELECT NOT indisvalid FROM pg_index WHERE indexrelid = to_regclass($1)", UID_INDEX
    ):
        await con.execute("DROP INDEX CONCURRENTLY mailbox_entries_uid_idx")
    await con.execute(
        """
        CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS mailbox_entries_uid_idx
        ON mailbox_entries (account_id, folder_id, uid)
        """
    )
    # Validation scans the table under a lock that lets reads and writes go on.
    for statement in _VALIDATIONS:
        await con.execute(statement)
    try:
        async with con.transaction():
            await con.execute("SELECT set_config('lock_timeout', $1, true)", FINISH_LOCK_TIMEOUT)
            await con.execute("ALTER TABLE mailbox_entries ALTER COLUMN uid SET NOT NULL")
            await con.execute(
                "ALTER TABLE mailbox_entries DROP CONSTRAINT mailbox_entries_uid_not_null"
            )
    except asyncpg.LockNotAvailableError:
        return False
    return True


async def describe_old_messages(pool: Pool, *, batch: int = DESCRIBE_BATCH) -> int | None:
    """Store the SEARCH texts of one batch of messages from before migration 0016: how
    many, or None when none is left or another runner holds the walk."""
    async with pool.acquire() as con, con.transaction():
        after = await con.fetchval(
            "SELECT after_id FROM imap_search_backfill FOR UPDATE SKIP LOCKED"
        )
        if after is None:
            return None
        rows = await con.fetch(
            f"""
            SELECT m.id, m.imap_search IS NULL AS old,
                   CASE WHEN m.imap_search IS NULL
                        THEN substring(m.raw from 1 for {HEADER_END}) END AS head
            FROM messages m WHERE m.id > $1 ORDER BY m.id LIMIT $2 FOR NO KEY UPDATE
            """,  # noqa: S608 - HEADER_END is a constant
            after,
            batch,
        )
        old = [row for row in rows if row["old"]]
        ids = [row["id"] for row in old]
        heads = await whole_headers(con, ids, [row["head"] for row in old])
        texts = await asyncio.to_thread(lambda: [stored_texts(head) for head in heads])
        await con.execute(
            """
            UPDATE messages m SET imap_search = u.texts
            FROM unnest($1::text[], $2::jsonb[]) AS u (id, texts) WHERE m.id = u.id
            """,
            ids,
            texts,
        )
        if len(rows) < batch:
            await con.execute("DELETE FROM imap_search_backfill")
        else:
            await con.execute("UPDATE imap_search_backfill SET after_id = $1", rows[-1]["id"])
    return len(old)


async def copy_entry_texts(pool: Pool, *, batch: int = COPY_TEXTS_BATCH) -> int | None:
    """Give one batch of entries from before migration 0024 their message's SEARCH texts:
    how many, or None when none is left, another runner holds the walk, or the other
    backfills are not done (:func:`number_old_entries`, :func:`describe_old_messages`)."""
    async with pool.acquire() as con, con.transaction():
        after = await con.fetchval(
            "SELECT after_id FROM entry_search_backfill FOR UPDATE SKIP LOCKED"
        )
        # Entries still without a UID cannot be written (0007's CHECK holds for updates).
        waiting = await con.fetchval(
            "SELECT EXISTS (SELECT FROM imap_search_backfill) OR EXISTS (SELECT FROM uid_backfill)"
        )
        if after is None or waiting:
            return None
        # Locked in id order, as the paths that move entries lock them (db.folders).
        ids = await con.fetch(
            "SELECT id FROM mailbox_entries WHERE id > $1 ORDER BY id LIMIT $2 FOR NO KEY UPDATE",
            after,
            batch,
        )
        status = await con.execute(
            """
            UPDATE mailbox_entries e SET imap_search = m.imap_search FROM messages m
            WHERE e.id = ANY($1::bigint[]) AND e.imap_search IS NULL AND m.id = e.message_id
            """,
            [row["id"] for row in ids],
        )
        if len(ids) < batch:
            await con.execute("DELETE FROM entry_search_backfill")
        else:
            await con.execute("UPDATE entry_search_backfill SET after_id = $1", ids[-1]["id"])
    return int(status.split()[-1])


async def build_modseq_index(pool: Pool) -> bool:
    """Build migration 0025's index if it is missing (or a failed build left it invalid).
    True when it exists now; False while another replica builds it."""
    async with pool.acquire() as con:
        valid = await con.fetchval(
            "SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass($1)", MODSEQ_INDEX
        )
        if valid:
            return True
        if not await con.fetchval("SELECT pg_try_advisory_lock($1)", MODSEQ_LOCK_KEY):
            return False
        try:
            if valid is False:
                # A CONCURRENTLY build that failed (a replica killed mid-way) leaves an
                # invalid index that is still maintained on every write.
                await con.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {MODSEQ_INDEX}")
            await con.execute(
                f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {MODSEQ_INDEX}"
                " ON mailbox_entries (account_id, folder_id, modseq)"
            )
        finally:
            await con.execute("SELECT pg_advisory_unlock($1)", MODSEQ_LOCK_KEY)
    return True
