"""Reading mailboxes: listings, one message, its parts, folder counts (search: searching)."""

from __future__ import annotations

from datetime import datetime

from mailstore.db.connection import Pool, Record

# A folder id (migration 0007's CHECK): the standard six by name, ``f<n>`` for the others.
FOLDER_ID = r"[a-z][a-z0-9]{0,19}"


async def list_folder(
    pool: Pool, *, account_id: int, folder: str, after: tuple[datetime, int] | None, limit: int
) -> list[Record]:
    """One page of a folder, newest first, starting after the keyset position ``after``."""
    if after is None:
        return list(
            await pool.fetch(
                """
            SELECT * FROM message_summaries WHERE account_id = $1 AND folder_id = $2
            ORDER BY created_at DESC, id DESC LIMIT $3
            """,
                account_id,
                folder,
                limit,
            )
        )
    return list(
        await pool.fetch(
            """
        SELECT * FROM message_summaries
        WHERE account_id = $1 AND folder_id = $2 AND (created_at, id) < ($3, $4)
        ORDER BY created_at DESC, id DESC LIMIT $5
        """,
            account_id,
            folder,
            after[0],
            after[1],
            limit,
        )
    )


async def get_summary(pool: Pool, *, account_id: int, entry_id: int) -> Record | None:
    return await pool.fetchrow(
        "SELECT * FROM message_summaries WHERE id = $1 AND account_id = $2", entry_id, account_id
    )


async def get_message(pool: Pool, *, account_id: int, entry_id: int) -> Record | None:
    return await pool.fetchrow(
        """
        SELECT s.*, m.message_id_header, m.in_reply_to, m.references_header, m.text_body,
               m.html_body, m.parse_error, m.parse_defects,
               -- The envelope's recipients, for the sender's own Sent copy only: on a
               -- received copy they would name the other recipients, Bcc included.
               CASE WHEN s.role = 'sent' AND m.submitted_by IS NOT NULL
                    THEN m.rcpt_to END AS delivered_to
        FROM message_summaries s JOIN messages m ON m.id = s.gateway_id
        WHERE s.id = $1 AND s.account_id = $2
        """,
        entry_id,
        account_id,
    )


async def list_attachments(pool: Pool, *, gateway_id: str) -> list[Record]:
    return list(
        await pool.fetch(
            """
        SELECT n, filename, content_type, size, content_id, disposition
        FROM attachments WHERE message_id = $1 ORDER BY n
        """,
            gateway_id,
        )
    )


async def get_raw(pool: Pool, *, account_id: int, entry_id: int) -> bytes | None:
    raw: bytes | None = await pool.fetchval(
        """
        SELECT m.raw FROM mailbox_entries e JOIN messages m ON m.id = e.message_id
        WHERE e.id = $1 AND e.account_id = $2
        """,
        entry_id,
        account_id,
    )
    return raw


async def raw_size(pool: Pool, *, account_id: int, entry_id: int) -> Record | None:
    """The gateway id and octet length of an entry's raw message, to read it in slices."""
    return await pool.fetchrow(
        """
        SELECT m.id AS gateway_id, octet_length(m.raw) AS size
        FROM mailbox_entries e JOIN messages m ON m.id = e.message_id
        WHERE e.id = $1 AND e.account_id = $2
        """,
        entry_id,
        account_id,
    )


async def raw_slice(pool: Pool, *, gateway_id: str, offset: int, length: int) -> bytes | None:
    """``length`` octets of a raw message from ``offset`` (0-based); None once it is gone.

    A value stored out of line and uncompressed (as base64 attachments mostly are) is
    read only as far as the slice needs; a compressed one is decompressed up to it.
    """
    chunk: bytes | None = await pool.fetchval(
        "SELECT substring(raw FROM $2 FOR $3) FROM messages WHERE id = $1",
        gateway_id,
        offset + 1,
        length,
    )
    return chunk


async def get_attachment(pool: Pool, *, account_id: int, entry_id: int, n: int) -> Record | None:
    return await pool.fetchrow(
        """
        SELECT a.filename, a.content_type, a.content
        FROM mailbox_entries e JOIN attachments a ON a.message_id = e.message_id
        WHERE e.id = $1 AND e.account_id = $2 AND a.n = $3
        """,
        entry_id,
        account_id,
        n,
    )


# Every folder of the account, the standard six first in migration 0007's order, then
# the others by name. Each count is an index-only scan per folder (listing index,
# unread index); a join that fetched every entry to read its flag took 0.6 s at 100,000.
_FOLDERS = """
SELECT f.id, f.name, f.special_use,
       (SELECT count(*) FROM mailbox_entries e
        WHERE e.account_id = $1 AND e.folder_id = f.id AND NOT e.seen) AS unread,
       CASE WHEN $2::boolean THEN (SELECT count(*) FROM mailbox_entries e
                                   WHERE e.account_id = $1 AND e.folder_id = f.id) END AS total
FROM folders f LEFT JOIN standard_folders s ON s.id = f.id
WHERE f.account_id = $1
ORDER BY s.position NULLS LAST, f.name
"""


async def folder_counts(pool: Pool, *, account_id: int) -> list[Record]:
    """Every folder with its total and unread entries."""
    return list(await pool.fetch(_FOLDERS, account_id, True))


async def unread_counts(pool: Pool, *, account_id: int) -> list[Record]:
    """Every folder with its unread entries only: what every web page shows, from the
    unread index. Totals count every entry of a folder, which costs time in proportion
    to its size."""
    return list(await pool.fetch(_FOLDERS, account_id, False))


async def folder_exists(pool: Pool, *, account_id: int, folder_id: str) -> bool:
    found: bool = await pool.fetchval(
        "SELECT EXISTS (SELECT 1 FROM folders WHERE account_id = $1 AND id = $2)",
        account_id,
        folder_id,
    )
    return found


async def list_starred(
    pool: Pool, *, account_id: int, after: tuple[datetime, int] | None, limit: int
) -> list[Record]:
    """One page of the entries flagged \\Flagged outside Trash, newest first."""
    return list(
        await pool.fetch(
            """
        SELECT * FROM message_summaries
        WHERE account_id = $1 AND flagged AND folder_id <> 'trash'
          AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3::bigint))
        ORDER BY created_at DESC, id DESC LIMIT $4
        """,
            account_id,
            after[0] if after else None,
            after[1] if after else None,
            limit,
        )
    )


# Where a listing's page stands (the web's "1-50 of 203", Newer / Older). Each counts
# the folder's entries (an index scan of account_id, folder_id, like the folders'
# totals); the starred listing is every flagged entry outside Trash.
_FOLDER_SCOPE = "WHERE account_id = $1 AND folder_id = $2"
_STARRED_SCOPE = "WHERE account_id = $1 AND flagged AND folder_id <> 'trash' AND $2::text IS NULL"
# Entries at or after the cursor are the ones on earlier pages (the cursor is the last
# entry shown before this page, which may since have gone).
_COUNTS = """SELECT count(*) AS total,
       count(*) FILTER (WHERE (created_at, id) >= ($3::timestamptz, $4::bigint)) AS before
FROM mailbox_entries """
# The previous page is the ``limit`` entries at or after the cursor, oldest first; the
# entry after them, if any, is that page's own cursor.
_PREVIOUS = (
    "SELECT created_at, id FROM mailbox_entries {scope}"
    " AND (created_at, id) >= ($3::timestamptz, $4::bigint)"
    " ORDER BY created_at, id OFFSET $5 LIMIT 1"
)
_STATEMENTS = {
    scope: (_COUNTS + scope, _PREVIOUS.replace("{scope}", scope))
    for scope in (_FOLDER_SCOPE, _STARRED_SCOPE)
}


async def page_position(
    pool: Pool,
    *,
    account_id: int,
    folder: str | None,
    after: tuple[datetime, int] | None,
    limit: int,
) -> tuple[int, int, tuple[datetime, int] | None]:
    """(entries in the folder, entries on earlier pages, the previous page's cursor: None
    when that page is the first). ``folder=None``: the starred listing."""
    counts, previous = _STATEMENTS[_STARRED_SCOPE if folder is None else _FOLDER_SCOPE]
    return await position_of(
        pool, counts, previous, account_id=account_id, folder=folder, after=after, limit=limit
    )


async def position_of(
    pool: Pool,
    counts: str,
    previous: str,
    *,
    account_id: int,
    folder: str | None,
    after: tuple[datetime, int] | None,
    limit: int,
) -> tuple[int, int, tuple[datetime, int] | None]:
    """page_position's answer from two statements over ($1 account, $2 folder, $3 $4
    cursor): ``counts`` answers total and before, ``previous`` the row ``$5`` on from the
    cursor, oldest first."""
    at, entry = after if after else (None, None)
    async with pool.acquire() as con, con.transaction(isolation="repeatable_read", readonly=True):
        row = await con.fetchrow(counts, account_id, folder, at, entry)
        assert row is not None  # an aggregate always answers one row
        total, before = int(row["total"]), int(row["before"] or 0)
        prev = None
        if after is not None and before > limit:
            found = await con.fetchrow(previous, account_id, folder, at, entry, limit)
            prev = (found["created_at"], found["id"]) if found else None
    return total, before, prev
