"""Changing mailboxes: read flags, Trash, deleting forever, one entry or many at once.

The bulk functions take entry ids as ``bigint[]`` and match them within one account, so an
id of another account changes nothing; each returns how many entries it actually changed.
"""

from __future__ import annotations

from mailstore.db.connection import Connection, Pool

# Entries the Trash purge deletes per transaction: a short transaction holds few locks.
PURGE_BATCH = 500


async def set_read(pool: Pool, *, account_id: int, entry_id: int, read: bool) -> bool:
    status: str = await pool.execute(
        "UPDATE mailbox_entries SET read = $3 WHERE id = $1 AND account_id = $2",
        entry_id,
        account_id,
        read,
    )
    return status != "UPDATE 0"


async def move_to_trash(pool: Pool, *, account_id: int, entry_id: int) -> bool:
    # Trashing twice keeps the first folder_before_trash: restore must not lead into Trash.
    status: str = await pool.execute(
        """
        UPDATE mailbox_entries
        SET folder_before_trash = coalesce(folder_before_trash, folder),
            trashed_at = coalesce(trashed_at, now()),
            folder = 'trash'
        WHERE id = $1 AND account_id = $2
        """,
        entry_id,
        account_id,
    )
    return status != "UPDATE 0"


async def restore(pool: Pool, *, account_id: int, entry_id: int) -> bool:
    status: str = await pool.execute(
        """
        UPDATE mailbox_entries
        SET folder = coalesce(folder_before_trash, folder), folder_before_trash = NULL,
            trashed_at = NULL
        WHERE id = $1 AND account_id = $2
        """,
        entry_id,
        account_id,
    )
    return status != "UPDATE 0"


async def delete_forever(pool: Pool, *, account_id: int, entry_id: int) -> bool:
    """Delete one entry, and the message with it once no other entry refers to it."""
    return await delete_many_forever(pool, account_id=account_id, entry_ids=[entry_id]) > 0


async def delete_many_forever(pool: Pool, *, account_id: int, entry_ids: list[int]) -> int:
    async with pool.acquire() as con, con.transaction():
        rows = await con.fetch(
            """
            DELETE FROM mailbox_entries WHERE account_id = $1 AND id = any($2::bigint[])
            RETURNING message_id
            """,
            account_id,
            entry_ids,
        )
        await _delete_unreferenced(con, [row["message_id"] for row in rows])
    return len(rows)


async def empty_trash(pool: Pool, *, account_id: int) -> int:
    async with pool.acquire() as con, con.transaction():
        rows = await con.fetch(
            """
            DELETE FROM mailbox_entries WHERE account_id = $1 AND folder = 'trash'
            RETURNING message_id
            """,
            account_id,
        )
        await _delete_unreferenced(con, [row["message_id"] for row in rows])
    return len(rows)


async def purge_trash(pool: Pool, *, days: int) -> int:
    """Delete forever every entry trashed more than ``days`` ago, in every account."""
    purged = 0
    while True:
        async with pool.acquire() as con, con.transaction():
            rows = await con.fetch(
                """
                DELETE FROM mailbox_entries WHERE id = any(ARRAY(
                    SELECT id FROM mailbox_entries
                    WHERE folder = 'trash' AND trashed_at < now() - $1::integer * interval '1 day'
                    LIMIT $2))
                RETURNING message_id
                """,
                days,
                PURGE_BATCH,
            )
            await _delete_unreferenced(con, [row["message_id"] for row in rows])
        purged += len(rows)
        if len(rows) < PURGE_BATCH:
            return purged


async def _delete_unreferenced(con: Connection, gateway_ids: list[str]) -> None:
    """Delete those messages no mailbox entry refers to any more (inside the caller's transaction).

    Two accounts deleting their entries of one message at once would each still see the
    other's entry and both keep the message; the row locks serialise them, and READ COMMITTED
    gives the second one's DELETE a snapshot that sees the first one's commit. Locking in id
    order keeps two bulk deletions from deadlocking each other.
    """
    if not gateway_ids:
        return
    await con.execute(
        "SELECT 1 FROM messages WHERE id = any($1::text[]) ORDER BY id FOR UPDATE", gateway_ids
    )
    await con.execute(
        """
        DELETE FROM messages m
        WHERE m.id = any($1::text[])
          AND NOT EXISTS (SELECT 1 FROM mailbox_entries e WHERE e.message_id = m.id)
        """,
        gateway_ids,
    )


async def set_read_many(pool: Pool, *, account_id: int, entry_ids: list[int], read: bool) -> int:
    status: str = await pool.execute(
        """
        UPDATE mailbox_entries SET read = $3
        WHERE account_id = $1 AND id = any($2::bigint[]) AND read <> $3
        """,
        account_id,
        entry_ids,
        read,
    )
    return _count(status)


async def move_many_to_trash(pool: Pool, *, account_id: int, entry_ids: list[int]) -> int:
    status: str = await pool.execute(
        """
        UPDATE mailbox_entries
        SET folder_before_trash = folder, trashed_at = now(), folder = 'trash'
        WHERE account_id = $1 AND id = any($2::bigint[]) AND folder <> 'trash'
        """,
        account_id,
        entry_ids,
    )
    return _count(status)


async def restore_many(pool: Pool, *, account_id: int, entry_ids: list[int]) -> int:
    status: str = await pool.execute(
        """
        UPDATE mailbox_entries
        SET folder = folder_before_trash, folder_before_trash = NULL, trashed_at = NULL
        WHERE account_id = $1 AND id = any($2::bigint[]) AND folder = 'trash'
        """,
        account_id,
        entry_ids,
    )
    return _count(status)


def _count(status: str) -> int:
    # asyncpg returns the command tag, e.g. "UPDATE 3".
    return int(status.rpartition(" ")[2])
