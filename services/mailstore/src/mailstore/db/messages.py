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


# Each search filter is one of two constant fragments: its condition when the filter is
# used, or a test of its (unused) parameter that holds, which the planner folds away or
# runs once ("One-Time Filter"). An ``($n IS NULL OR condition)`` instead keeps the
# condition in every plan: the GIN index on ``search`` could not serve a generic plan,
# and every row paid for the unused NOT EXISTS subqueries (docs/performance.md,
# "Reading"). Parameter numbers are fixed; only constant texts are joined.
_SEARCH_HEAD = """
SELECT s.* FROM message_summaries s JOIN messages m ON m.id = s.gateway_id
WHERE s.account_id = $1 AND s.folder = any($2::text[])
"""
_SEARCH_FILTERS = (
    (
        "AND m.search @@ websearch_to_tsquery('simple', $3::text)",
        "AND $3::text IS NULL",
    ),
    (
        """AND NOT EXISTS (
            SELECT 1 FROM unnest($4::text[]) AS t(term)
            WHERE strpos(lower(m.from_name || ' ' || m.from_address), t.term) = 0)""",
        "AND cardinality($4::text[]) = 0",
    ),
    (
        """AND NOT EXISTS (
            SELECT 1 FROM unnest($5::text[]) AS t(term)
            WHERE NOT EXISTS (
                SELECT 1 FROM jsonb_array_elements(m.to_addrs || m.cc_addrs) AS a(person)
                WHERE strpos(lower(concat(a.person->>'name', ' ', a.person->>'address')),
                             t.term) > 0))""",
        "AND cardinality($5::text[]) = 0",
    ),
    (
        """AND NOT EXISTS (
            SELECT 1 FROM unnest($6::text[]) AS t(term)
            WHERE strpos(lower(m.subject), t.term) = 0)""",
        "AND cardinality($6::text[]) = 0",
    ),
    ("AND m.has_attachments = $7::boolean", "AND $7::boolean IS NULL"),
    ("AND s.read = $8::boolean", "AND $8::boolean IS NULL"),
    ("AND s.created_at < $9::timestamptz", "AND $9::timestamptz IS NULL"),
    ("AND s.created_at >= $10::timestamptz", "AND $10::timestamptz IS NULL"),
    (
        "AND (s.created_at, s.id) < ($11::timestamptz, $12::bigint)",
        "AND $11::timestamptz IS NULL AND $12::bigint IS NULL",
    ),
)
_SEARCH_TAIL = "ORDER BY s.created_at DESC, s.id DESC LIMIT $13"


def search_statement(used: tuple[bool, ...]) -> str:
    """The search statement for the filters in use (one flag per ``_SEARCH_FILTERS``)."""
    parts = [_SEARCH_HEAD]
    parts += [
        when_used if flag else unused
        for flag, (when_used, unused) in zip(used, _SEARCH_FILTERS, strict=True)
    ]
    parts.append(_SEARCH_TAIL)
    return "\n".join(parts)


async def search(
    pool: Pool,
    *,
    account_id: int,
    query: SearchFilter,
    after: tuple[datetime, int] | None,
    limit: int,
) -> list[Record]:
    """Search one account's mail, newest first, after the keyset position ``after``."""
    values = (
        query.text,
        list(query.from_terms),
        list(query.to_terms),
        list(query.subject_terms),
        query.has_attachment,
        query.read,
        query.before,
        query.after,
        after[0] if after else None,
    )
    used = tuple(bool(v) if isinstance(v, list) else v is not None for v in values)
    statement = search_statement(used)
    async with pool.acquire() as con, con.transaction():
        # asyncpg prepares each statement; after five runs PostgreSQL may reuse a generic
        # plan, made without the words. Whether to walk the newest mail or the GIN index
        # depends on how common the words are, and the wrong one costs seconds.
        await con.execute("SET LOCAL plan_cache_mode = force_custom_plan")
        rows = await con.fetch(
            statement, account_id, list(query.folders), *values, after[1] if after else None, limit
        )
    return list(rows)


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


async def folder_counts(pool: Pool, *, account_id: int) -> list[Record]:
    # One count per folder and figure, each an index-only scan (listing index, unread
    # index); a join that fetched every entry to read its flag took 0.6 s at 100,000.
    return list(
        await pool.fetch(
            """
        SELECT f.folder,
               (SELECT count(*) FROM mailbox_entries e
                WHERE e.account_id = $1 AND e.folder = f.folder) AS total,
               (SELECT count(*) FROM mailbox_entries e
                WHERE e.account_id = $1 AND e.folder = f.folder AND NOT e.read) AS unread
        FROM unnest($2::text[]) WITH ORDINALITY AS f(folder, position)
        ORDER BY f.position
        """,
            account_id,
            list(FOLDERS),
        )
    )


async def unread_counts(pool: Pool, *, account_id: int) -> list[Record]:
    """Unread entries per folder only: what every web page shows, from the unread index.

    Totals count every entry of a folder, which costs time in proportion to its size.
    """
    return list(
        await pool.fetch(
            """
        SELECT f.folder,
               (SELECT count(*) FROM mailbox_entries e
                WHERE e.account_id = $1 AND e.folder = f.folder AND NOT e.read) AS unread
        FROM unnest($2::text[]) WITH ORDINALITY AS f(folder, position)
        ORDER BY f.position
        """,
            account_id,
            list(FOLDERS),
        )
    )
