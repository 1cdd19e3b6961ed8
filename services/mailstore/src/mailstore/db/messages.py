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
# condition in every plan, and every row paid for the unused NOT EXISTS subqueries.
# Parameter numbers are fixed; only constant texts are joined (docs/performance.md,
# "Reading", has the plans).
_MESSAGE_FILTERS = (
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
)
# On ``s``: message_summaries, or mailbox_entries (same column names) in the walk.
_ENTRY_FILTERS = (
    ("AND s.read = $8::boolean", "AND $8::boolean IS NULL"),
    ("AND s.created_at < $9::timestamptz", "AND $9::timestamptz IS NULL"),
    ("AND s.created_at >= $10::timestamptz", "AND $10::timestamptz IS NULL"),
    (
        "AND (s.created_at, s.id) < ($11::timestamptz, $12::bigint)",
        "AND $11::timestamptz IS NULL AND $12::bigint IS NULL",
    ),
)
_ACCOUNT = "WHERE s.account_id = $1 AND s.folder = any($2::text[])"
_ORDER = "ORDER BY s.created_at DESC, s.id DESC"
# No free text: the account's mail newest first, filtered (mailbox_entries_account_time_idx).
_PLAIN = ("SELECT s.* FROM message_summaries s JOIN messages m ON m.id = s.gateway_id", _ACCOUNT)
# Free text, first try: only the account's newest $14 entries. Enough for a common word;
# when they hold fewer matches than a page, a longer walk or _INDEXED answers instead.
# The outer query orders by the walk's own columns, which the planner knows come sorted:
# it then stops at the page's last match instead of joining all $14 entries and sorting.
_WALK_HEAD = ("SELECT s.* FROM (SELECT s.id, s.created_at FROM mailbox_entries s", _ACCOUNT)
_WALK_MIDDLE = (
    _ORDER,
    "LIMIT $14) AS recent",
    "JOIN message_summaries s ON s.id = recent.id JOIN messages m ON m.id = s.gateway_id",
    "WHERE true",
)
_WALK_TAIL = "ORDER BY recent.created_at DESC, recent.id DESC LIMIT $13"
# Free text, rare: the GIN index finds every message with the words, once (MATERIALIZED:
# the planner's guess of how many there are is what made it walk instead).
_INDEXED = (
    """WITH hits AS MATERIALIZED (
        SELECT id FROM messages WHERE search @@ websearch_to_tsquery('simple', $3::text))
    SELECT s.* FROM hits JOIN message_summaries s ON s.gateway_id = hits.id
    JOIN messages m ON m.id = s.gateway_id""",
    _ACCOUNT,
)
_TAIL = _ORDER + " LIMIT $13"
# Entries the first walk reads (about 20 ms): a word in 2 % of the mail fills a page.
WALK_ENTRIES = 2500
# The longest second walk (about 100 ms), for a phrase of common words in ~1 % of the
# mail, where the index would recheck every message holding both words (seconds).
MAX_WALK_ENTRIES = 12_000


def _chosen(filters: tuple[tuple[str, str], ...], used: tuple[bool, ...]) -> list[str]:
    return [when if flag else unused for flag, (when, unused) in zip(used, filters, strict=True)]


def search_statements(used: tuple[bool, ...]) -> tuple[str, ...]:
    """The statements to try in turn for the filters in use (a flag per filter, message
    filters first, free text the very first); each takes $1-$13, the walk also $14."""
    message, entry = _chosen(_MESSAGE_FILTERS, used[:5]), _chosen(_ENTRY_FILTERS, used[5:])
    if not used[0]:
        return ("\n".join([*_PLAIN, *message, *entry, _TAIL]),)
    walk = [*_WALK_HEAD, *entry, *_WALK_MIDDLE, *message, _WALK_TAIL]
    # hits holds only messages with the words: testing them again made the planner
    # recheck every candidate twice (a second bitmap scan, hashed).
    indexed = [*_INDEXED, *message[1:], *entry, _TAIL]
    return "\n".join(walk), "\n".join(indexed)


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
    params = (account_id, list(query.folders), *values, after[1] if after else None, limit)
    statements = search_statements(used)
    async with pool.acquire() as con, con.transaction():
        # asyncpg prepares each statement, and after five runs PostgreSQL may reuse a
        # generic plan, made without the words: keep planning with them.
        await con.execute("SET LOCAL plan_cache_mode = force_custom_plan")
        if len(statements) == 1:
            return list(await con.fetch(statements[0], *params))
        # The newest matches among the newest entries are the newest of all, so a full
        # page from a walk is the answer. A walk that found some matches tells how far a
        # page is: walk that far if it is near; else (or still short) the index decides.
        walk, indexed = statements
        rows = await con.fetch(walk, *params, WALK_ENTRIES)
        if rows and len(rows) < limit:
            window = WALK_ENTRIES * 2 * limit // len(rows)
            if window <= MAX_WALK_ENTRIES:
                rows = await con.fetch(walk, *params, window)
        if len(rows) < limit:
            rows = await con.fetch(indexed, *params)
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
