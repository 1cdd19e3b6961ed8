"""Changing mailboxes: \\Seen, Trash, deleting forever, one entry or many at once.

Moving to Trash and restoring are moves: the entry keeps its id (the API's message id)
and gets a new UID in the folder it enters, and its old UID is recorded as expunged
from the folder it leaves (db.folders). Each function runs in one transaction and
returns an :class:`~mailstore.db.folders.Outcome`: how many of the named entries are
the account's, and the changes for the ``changed`` event. The bulk functions take entry
ids as ``bigint[]`` and match them within one account, so an id of another account
changes nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

from mailstore.db.connection import Connection, Pool, Record
from mailstore.db.folders import (
    EXISTS,
    FLAGS,
    Change,
    Outcome,
    allocate,
    expunge,
    lock_folders,
    lock_folders_of,
)

# Entries the Trash purge deletes per transaction: a short transaction holds few locks.
PURGE_BATCH = 500
TRASH = "trash"


class _Moved(Exception):
    """An entry changed folder between reading it and locking its folder: start over."""


async def set_read(pool: Pool, *, account_id: int, entry_id: int, read: bool) -> Outcome:
    return await set_read_many(pool, account_id=account_id, entry_ids=[entry_id], read=read)


async def set_read_many(
    pool: Pool, *, account_id: int, entry_ids: list[int], read: bool
) -> Outcome:
    async def change(con: Connection, rows: list[Record]) -> list[Change]:
        changes: list[Change] = []
        for folder_id, ids in _ids_by_folder(r for r in rows if r["seen"] != read).items():
            modseq = (await allocate(con, account_id=account_id, folder_id=folder_id, uids=0))[
                "modseq"
            ]
            updated = await con.fetch(
                """
                UPDATE mailbox_entries SET seen = $3, modseq = $4
                WHERE account_id = $1 AND id = any($2::bigint[]) RETURNING id, uid
                """,
                account_id,
                ids,
                read,
                modseq,
            )
            changes += [
                Change(account_id, r["id"], folder_id, r["uid"], modseq, FLAGS) for r in updated
            ]
        return changes

    return await _change(pool, account_id, entry_ids, (), change)


async def move_to_trash(pool: Pool, *, account_id: int, entry_id: int) -> Outcome:
    return await move_many_to_trash(pool, account_id=account_id, entry_ids=[entry_id])


async def move_many_to_trash(pool: Pool, *, account_id: int, entry_ids: list[int]) -> Outcome:
    # An entry already in Trash stays as it is: a restore must not lead back into Trash.
    async def change(con: Connection, rows: list[Record]) -> list[Change]:
        moving = [row for row in rows if row["folder_id"] != TRASH]
        return await _move(con, account_id, moving, {TRASH: moving})

    return await _change(pool, account_id, entry_ids, (TRASH,), change)


async def restore(pool: Pool, *, account_id: int, entry_id: int) -> Outcome:
    return await restore_many(pool, account_id=account_id, entry_ids=[entry_id])


async def restore_many(pool: Pool, *, account_id: int, entry_ids: list[int]) -> Outcome:
    async def change(con: Connection, rows: list[Record]) -> list[Change]:
        moving = [row for row in rows if row["folder_id"] == TRASH]
        targets: dict[str, list[Record]] = {}
        for row in moving:
            targets.setdefault(row["restore_folder_id"], []).append(row)
        return await _move(con, account_id, moving, targets)

    return await _change(pool, account_id, entry_ids, (), change)


async def delete_forever(pool: Pool, *, account_id: int, entry_id: int) -> Outcome:
    """Delete one entry, and the message with it once no other entry refers to it."""
    return await delete_many_forever(pool, account_id=account_id, entry_ids=[entry_id])


async def delete_many_forever(pool: Pool, *, account_id: int, entry_ids: list[int]) -> Outcome:
    async def change(con: Connection, rows: list[Record]) -> list[Change]:
        return await delete_entries(con, account_id, rows)

    return await _change(pool, account_id, entry_ids, (), change)


async def empty_trash(pool: Pool, *, account_id: int) -> Outcome:
    async with pool.acquire() as con, con.transaction():
        await lock_folders(con, account_id=account_id, folder_ids=[TRASH])
        rows = await con.fetch(
            """
            SELECT id, folder_id, restore_folder_id, uid, seen, created_at FROM mailbox_entries
            WHERE account_id = $1 AND folder_id = $2 ORDER BY id FOR UPDATE
            """,
            account_id,
            TRASH,
        )
        changes = await delete_entries(con, account_id, rows)
    return Outcome(len(rows), changes)


async def purge_trash(pool: Pool, *, days: int) -> list[Change]:
    """Delete forever every entry trashed more than ``days`` ago, in every account."""
    changes: list[Change] = []
    while True:
        async with pool.acquire() as con, con.transaction():
            batch = await _purge_batch(con, days)
        changes += batch
        if len(batch) < PURGE_BATCH:
            return changes


async def _purge_batch(con: Connection, days: int) -> list[Change]:
    candidates = await con.fetch(
        """
        SELECT DISTINCT account_id FROM mailbox_entries
        WHERE folder_id = 'trash' AND trashed_at < now() - $1::integer * interval '1 day'
        LIMIT $2
        """,
        days,
        PURGE_BATCH,
    )
    await lock_folders_of(con, [(row["account_id"], TRASH) for row in candidates])
    # Under the Trash locks no entry leaves Trash: these rows are the batch.
    rows = await con.fetch(
        """
        SELECT account_id, id, folder_id, restore_folder_id, uid, seen, created_at
        FROM mailbox_entries
        WHERE folder_id = 'trash' AND trashed_at < now() - $1::integer * interval '1 day'
          AND account_id = any($3::bigint[])
        ORDER BY id LIMIT $2 FOR UPDATE
        """,
        days,
        PURGE_BATCH,
        [row["account_id"] for row in candidates],
    )
    changes: list[Change] = []
    by_account: dict[int, list[Record]] = {}
    for row in rows:
        by_account.setdefault(row["account_id"], []).append(row)
    for account_id, entries in by_account.items():
        changes += await delete_entries(con, account_id, entries)
    return changes


async def _change(
    pool: Pool,
    account_id: int,
    entry_ids: list[int],
    destinations: tuple[str, ...],
    change: Callable[[Connection, list[Record]], Awaitable[list[Change]]],
) -> Outcome:
    """Run ``change`` on the named entries of the account, locked with their folders.

    The entries are read, their folders (those they are in, those they would be restored
    to, and ``destinations``) locked in order, then the entries locked; an entry that
    changed folder in between means starting over. The second attempt locks every folder
    of the account, which no move can escape.
    """
    if not entry_ids:
        return Outcome(0, [])
    for every_folder in (False, True):
        try:
            async with pool.acquire() as con, con.transaction():
                rows = await _lock_entries(con, account_id, entry_ids, destinations, every_folder)
                return Outcome(len(rows), await change(con, rows))
        except _Moved:
            continue
    raise AssertionError("unreachable: the second attempt locks every folder")


async def _lock_entries(
    con: Connection,
    account_id: int,
    entry_ids: list[int],
    destinations: tuple[str, ...],
    every_folder: bool,
) -> list[Record]:
    if every_folder:
        folders = {
            row["id"]
            for row in await con.fetch("SELECT id FROM folders WHERE account_id = $1", account_id)
        }
    else:
        folders = set(destinations)
        for row in await con.fetch(
            """
            SELECT folder_id, restore_folder_id FROM mailbox_entries
            WHERE account_id = $1 AND id = any($2::bigint[])
            """,
            account_id,
            entry_ids,
        ):
            folders.update(f for f in (row["folder_id"], row["restore_folder_id"]) if f)
    await lock_folders(con, account_id=account_id, folder_ids=folders)
    rows = await con.fetch(
        """
        SELECT id, folder_id, restore_folder_id, uid, seen, created_at FROM mailbox_entries
        WHERE account_id = $1 AND id = any($2::bigint[]) ORDER BY id FOR UPDATE
        """,
        account_id,
        entry_ids,
    )
    # A restore target changes only with the folder, but an entry may have left Trash and
    # come back from elsewhere in between.
    if any(
        row["folder_id"] not in folders or row["restore_folder_id"] not in (None, *folders)
        for row in rows
    ):
        raise _Moved
    return list(rows)


async def _move(
    con: Connection, account_id: int, moving: list[Record], targets: dict[str, list[Record]]
) -> list[Change]:
    """Move locked entries: expunged from their folders, new UIDs in their targets
    (``targets``: folder id -> the entries going there), in arrival order."""
    changes = await expunge(con, account_id=account_id, entries=moving)
    for folder_id, rows in sorted(targets.items()):
        if not rows:
            continue
        rows = sorted(rows, key=lambda row: (row["created_at"], row["id"]))
        allocated = await allocate(con, account_id=account_id, folder_id=folder_id, uids=len(rows))
        first, modseq = allocated["first_uid"], allocated["modseq"]
        uids = list(range(first, first + len(rows)))
        await con.execute(
            """
            UPDATE mailbox_entries e
            SET folder_id = $2, uid = u.uid, modseq = $5,
                restore_folder_id = CASE WHEN $2 = 'trash' THEN e.folder_id END,
                trashed_at = CASE WHEN $2 = 'trash' THEN now() END
            FROM unnest($3::bigint[], $4::bigint[]) AS u(id, uid)
            WHERE e.account_id = $1 AND e.id = u.id
            """,
            account_id,
            folder_id,
            [row["id"] for row in rows],
            uids,
            modseq,
        )
        changes += [
            Change(account_id, row["id"], folder_id, uid, modseq, EXISTS)
            for row, uid in zip(rows, uids, strict=True)
        ]
    return changes


async def delete_entries(con: Connection, account_id: int, rows: list[Record]) -> list[Change]:
    """Delete locked entries forever, recording their expunge, and the messages no entry
    refers to any more."""
    if not rows:
        return []
    changes = await expunge(con, account_id=account_id, entries=rows)
    deleted = await con.fetch(
        """
        DELETE FROM mailbox_entries WHERE account_id = $1 AND id = any($2::bigint[])
        RETURNING message_id
        """,
        account_id,
        [row["id"] for row in rows],
    )
    await delete_unreferenced(con, [row["message_id"] for row in deleted])
    return changes


async def delete_unreferenced(con: Connection, gateway_ids: list[str]) -> None:
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


def _ids_by_folder(rows: Iterable[Record]) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for row in rows:
        found.setdefault(row["folder_id"], []).append(row["id"])
    return found
