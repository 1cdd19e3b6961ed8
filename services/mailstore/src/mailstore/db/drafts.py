"""The web's drafts: messages in the account's \\Drafts folder, saved and replaced whole.

A draft is a real message (the web builds its MIME) so that mail programs see it in
Drafts over IMAP, flagged \\Draft and \\Seen. Saving a draft again stores the new
message and deletes the one it replaces in one transaction: a crash leaves either the
old draft or the new one, never none and never both.
"""

from __future__ import annotations

from mailstore.db.changes import delete_entries
from mailstore.db.connection import Connection, Pool, Record
from mailstore.db.folders import Change, Outcome
from mailstore.db.imap_append import Appended, insert_entries
from mailstore.db.quotas import require_room
from mailstore.errors import FolderNotFound, MessageNotFound

DRAFTS = "drafts"  # the standard folder's id (migration 0007)


async def save_draft(
    pool: Pool,
    *,
    account_id: int,
    message: Appended,
    replaces: int | None,
    default_quota: int = 0,
) -> list[Change]:
    """Store ``message`` in Drafts, deleting the draft ``replaces`` (an entry of this
    account's Drafts, else MessageNotFound and nothing is stored). The changes: the new
    entry's EXISTS first, then the expunge of the old one. OverQuota, storing nothing,
    when the account would then hold more than its quota."""
    async with pool.acquire() as con, con.transaction():
        folder = await _drafts_folder(con, account_id)
        old: list[Record] = []
        if replaces is not None:
            old = await _lock_draft(con, account_id, replaces)
        stored = await insert_entries(con, account_id=account_id, folder=folder, messages=[message])
        changes = stored + await delete_entries(con, account_id, old)
        await require_room(con, account_id=account_id, default_quota=default_quota)
        return changes


async def delete_draft(pool: Pool, *, account_id: int, entry_id: int) -> Outcome:
    """Delete a draft forever (it was sent); an entry outside Drafts is not touched."""
    async with pool.acquire() as con, con.transaction():
        await _drafts_folder(con, account_id)
        rows = await _lock_draft(con, account_id, entry_id)
        return Outcome(len(rows), await delete_entries(con, account_id, rows))


async def _drafts_folder(con: Connection, account_id: int) -> Record:
    row = await con.fetchrow(
        """
        SELECT id, name, uidvalidity, special_use FROM folders
        WHERE account_id = $1 AND id = $2 FOR NO KEY UPDATE
        """,
        account_id,
        DRAFTS,
    )
    if row is None:
        raise FolderNotFound("Drafts")
    return row


async def _lock_draft(con: Connection, account_id: int, entry_id: int) -> list[Record]:
    rows: list[Record] = await con.fetch(
        """
        SELECT id, folder_id, uid FROM mailbox_entries
        WHERE account_id = $1 AND id = $2 AND folder_id = $3 FOR UPDATE
        """,
        account_id,
        entry_id,
        DRAFTS,
    )
    if not rows:
        raise MessageNotFound(entry_id)
    return rows
