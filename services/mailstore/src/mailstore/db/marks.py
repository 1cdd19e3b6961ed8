"""The web's changes in IMAP's terms: move to any folder, and the flags it shows.

Issue 13: the web and IMAP are two views of one mailbox. A move here is IMAP's MOVE (the
entry leaves its folder's UIDs and takes a new one in the target, db.changes), a star
is \\Flagged, Reply sets \\Answered and Forward the keyword $Forwarded (RFC 5788's
registry), each with a new MODSEQ per folder so that IMAP sessions learn of it.
"""

from __future__ import annotations

from mailstore.db.changes import _change, _ids_by_folder, _move
from mailstore.db.connection import Connection, Pool, Record
from mailstore.db.folders import FLAGS, Change, Outcome, allocate
from mailstore.errors import FolderNotFound

FORWARDED = "$Forwarded"
# The flags the web sets, each one fixed statement (no SQL built from a name).
_SET_FLAG = {
    "flagged": """
        UPDATE mailbox_entries SET flagged = $3, modseq = $4
        WHERE account_id = $1 AND id = any($2::bigint[]) AND flagged <> $3 RETURNING id, uid
        """,
    "answered": """
        UPDATE mailbox_entries SET answered = $3, modseq = $4
        WHERE account_id = $1 AND id = any($2::bigint[]) AND answered <> $3 RETURNING id, uid
        """,
    "forwarded": """
        UPDATE mailbox_entries
        SET keywords = CASE WHEN $3 THEN array_append(keywords, '$Forwarded')
                            ELSE array_remove(keywords, '$Forwarded') END,
            modseq = $4
        WHERE account_id = $1 AND id = any($2::bigint[])
          AND ('$Forwarded' = any(keywords)) <> $3
        RETURNING id, uid
        """,
}
FLAG_NAMES = tuple(_SET_FLAG)


async def move_many(
    pool: Pool, *, account_id: int, entry_ids: list[int], folder_id: str
) -> Outcome:
    """Move the account's named entries into ``folder_id`` (those already there stay);
    FolderNotFound when the account has no such folder. Into Trash, an entry remembers
    where it came from, as the web's Delete does."""

    async def change(con: Connection, rows: list[Record]) -> list[Change]:
        await _require_folder(con, account_id, folder_id)
        moving = [row for row in rows if row["folder_id"] != folder_id]
        return await _move(con, account_id, moving, {folder_id: moving})

    return await _change(pool, account_id, entry_ids, (folder_id,), change)


async def _require_folder(con: Connection, account_id: int, folder_id: str) -> None:
    # Under the folder's lock (taken by _change): a folder deleted meanwhile is gone here.
    if not await con.fetchval(
        "SELECT EXISTS (SELECT 1 FROM folders WHERE account_id = $1 AND id = $2)",
        account_id,
        folder_id,
    ):
        raise FolderNotFound(folder_id)


async def set_flag_many(
    pool: Pool, *, account_id: int, entry_ids: list[int], flag: str, value: bool
) -> Outcome:
    """Set (or clear) one of FLAG_NAMES on the account's named entries."""
    statement = _SET_FLAG[flag]

    async def change(con: Connection, rows: list[Record]) -> list[Change]:
        changes: list[Change] = []
        for folder_id, ids in _ids_by_folder(rows).items():
            allocated = await allocate(con, account_id=account_id, folder_id=folder_id, uids=0)
            modseq = allocated["modseq"]
            updated = await con.fetch(statement, account_id, ids, value, modseq)
            changes += [
                Change(account_id, r["id"], folder_id, r["uid"], modseq, FLAGS) for r in updated
            ]
        return changes

    return await _change(pool, account_id, entry_ids, (), change)
