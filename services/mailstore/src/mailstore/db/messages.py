"""Reading mailboxes: listings, search, one message, its parts, folder counts."""

from __future__ import annotations

from datetime import datetime

from mailstore.db.connection import Pool, Record
from mailstore.search import SearchFilter

FOLDERS = ("inbox", "sent", "trash")


async def list_folder(
    pool: Pool, *, account_id: int, folder: str, after: tuple[datetime, int] | None, limit: int
) -> list[Record]:
    """One page of a folder, newest first, starting after the keyset position ``after``."""
    if after is None:
        return list(
            await pool.fetch(
                """
            SELECT * FROM message_summaries WHERE account_id = $1 AND folder = $2
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
        WHERE account_id = $1 AND folder = $2 AND (created_at, id) < ($3, $4)
        ORDER BY created_at DESC, id DESC LIMIT $5
        """,
            account_id,
            folder,
            after[0],
            after[1],
            limit,
        )
    )


async def search(
    pool: Pool,
    *,
    account_id: int,
    query: SearchFilter,
    after: tuple[datetime, int] | None,
    limit: int,
) -> list[Record]:
    """Search one account's mail; one fixed statement, each unused filter passed as NULL."""
    return list(
        await pool.fetch(
            """
        SELECT s.* FROM message_summaries s JOIN messages m ON m.id = s.gateway_id
        WHERE s.account_id = $1
          AND s.folder = any($2::text[])
          AND ($3::text IS NULL OR m.search @@ websearch_to_tsquery('simple', $3))
          AND NOT EXISTS (
              SELECT 1 FROM unnest($4::text[]) AS t(term)
              WHERE strpos(lower(m.from_name || ' ' || m.from_address), t.term) = 0)
          AND NOT EXISTS (
              SELECT 1 FROM unnest($5::text[]) AS t(term)
              WHERE NOT EXISTS (
                  SELECT 1 FROM jsonb_array_elements(m.to_addrs || m.cc_addrs) AS a(person)
                  WHERE strpos(lower(concat(a.person->>'name', ' ', a.person->>'address')),
                               t.term) > 0))
          AND NOT EXISTS (
              SELECT 1 FROM unnest($6::text[]) AS t(term)
              WHERE strpos(lower(m.subject), t.term) = 0)
          AND ($7::boolean IS NULL OR m.has_attachments = $7)
          AND ($8::boolean IS NULL OR s.read = $8)
          AND ($9::timestamptz IS NULL OR s.created_at < $9)
          AND ($10::timestamptz IS NULL OR s.created_at >= $10)
          AND ($11::timestamptz IS NULL OR (s.created_at, s.id) < ($11, $12))
        ORDER BY s.created_at DESC, s.id DESC LIMIT $13
        """,
            account_id,
            list(query.folders),
            query.text,
            list(query.from_terms),
            list(query.to_terms),
            list(query.subject_terms),
            query.has_attachment,
            query.read,
            query.before,
            query.after,
            after[0] if after else None,
            after[1] if after else None,
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
               m.html_body, m.parse_error, m.parse_defects
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


async def folder_counts(pool: Pool, *, account_id: int) -> list[Record]:
    return list(
        await pool.fetch(
            """
        SELECT f.folder, count(e.id) AS total, count(e.id) FILTER (WHERE NOT e.read) AS unread
        FROM unnest($2::text[]) WITH ORDINALITY AS f(folder, position)
        LEFT JOIN mailbox_entries e ON e.folder = f.folder AND e.account_id = $1
        GROUP BY f.folder, f.position ORDER BY f.position
        """,
            account_id,
            list(FOLDERS),
        )
    )
