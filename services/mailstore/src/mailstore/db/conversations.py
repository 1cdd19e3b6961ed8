"""Conversations: a folder listed one row per conversation, a conversation opened, and
the labelling of the entries from before them (migration 0018).

An entry's ``conversation`` is set by the migration's trigger as it is inserted (the
merging of conversations when a parent arrives after its children is there too); a
delivered batch labels most of its entries itself first (``label_batch``). A
conversation's row in a folder is its newest entry there, its *head*: an entry with no
newer entry of the same conversation in the folder. The listing walks the folder's
listing index newest first and keeps the heads, one probe of the (account, folder,
conversation, created_at, id) index per entry walked, so a page costs its 50 rows plus
the older messages of their conversations that it steps over, whatever the folder's size.
"""

from __future__ import annotations

from datetime import datetime

from mailstore.conversation_keys import Keys, labels
from mailstore.db.connection import Connection, Pool, Record
from mailstore.db.messages import position_of

# A head: no newer entry of its conversation in its folder (NULL: a conversation alone).
_HEAD = """(e.conversation IS NULL OR NOT EXISTS (
    SELECT 1 FROM mailbox_entries n
    WHERE n.account_id = e.account_id AND n.folder_id = e.folder_id
      AND n.conversation = e.conversation AND (n.created_at, n.id) > (e.created_at, e.id)))"""

# Each head with its conversation's figures in the folder: how many messages, whether
# any is unread or starred, and the last ten senders (oldest first; the web shows a few).
_LIST = """
WITH heads AS (
    SELECT e.id, e.conversation FROM mailbox_entries e
    WHERE e.account_id = $1 AND e.folder_id = $2
      AND ($3::timestamptz IS NULL OR (e.created_at, e.id) < ($3, $4::bigint))
      AND {head}
    ORDER BY e.created_at DESC, e.id DESC LIMIT $5
)
SELECT s.*, h.conversation,
       CASE WHEN h.conversation IS NULL THEN 1 ELSE c.messages END AS conversation_messages,
       CASE WHEN h.conversation IS NULL THEN NOT s.seen ELSE c.unread END AS conversation_unread,
       CASE WHEN h.conversation IS NULL THEN s.flagged ELSE c.flagged END
           AS conversation_flagged,
       c.senders
FROM heads h JOIN message_summaries s ON s.id = h.id
CROSS JOIN LATERAL (
    SELECT count(*) AS messages, bool_or(NOT n.seen) AS unread,
           bool_or(n.flagged) AS flagged,
           (SELECT coalesce(jsonb_agg(jsonb_build_object('name', p.from_name,
                                                         'address', p.from_address)
                                      ORDER BY p.created_at, p.id), '[]')
            FROM (SELECT m.from_name, m.from_address, n2.created_at, n2.id
                  FROM mailbox_entries n2 JOIN messages m ON m.id = n2.message_id
                  WHERE n2.account_id = s.account_id AND n2.folder_id = s.folder_id
                    AND n2.conversation = h.conversation
                  ORDER BY n2.created_at DESC, n2.id DESC LIMIT 10) p) AS senders
    FROM mailbox_entries n
    WHERE n.account_id = s.account_id AND n.folder_id = s.folder_id
      AND n.conversation = h.conversation
) c
ORDER BY s.created_at DESC, s.id DESC
""".replace("{head}", _HEAD)


async def list_conversations(
    pool: Pool, *, account_id: int, folder: str, after: tuple[datetime, int] | None, limit: int
) -> list[Record]:
    """One page of a folder's conversations, newest first: each head's summary with
    ``conversation``, ``conversation_messages``, ``conversation_unread``,
    ``conversation_flagged`` and ``senders``; the keyset is the head's."""
    at, entry = after if after else (None, None)
    return list(await pool.fetch(_LIST, account_id, folder, at, entry, limit))


# "1-50 of N": conversations with an entry at or after the cursor are on earlier pages
# (their heads are newer still). Unlabelled entries count one each: all entries less the
# labelled ones. DISTINCT in a subquery reads the partial folder-conversation index in
# its order (count(DISTINCT) would sort); the counts are index-only scans too. Each
# scan grows with the folder: 30-50 ms in all at 30,000 entries on a loaded machine
# (docs/performance.md, "Conversations").
_COUNTS = """
SELECT (SELECT count(*) FROM (
            SELECT DISTINCT conversation FROM mailbox_entries
            WHERE account_id = $1 AND folder_id = $2 AND conversation IS NOT NULL) c)
       + (SELECT count(*) FROM mailbox_entries WHERE account_id = $1 AND folder_id = $2)
       - (SELECT count(*) FROM mailbox_entries
          WHERE account_id = $1 AND folder_id = $2 AND conversation IS NOT NULL) AS total,
       (SELECT count(*) FROM (
            SELECT DISTINCT conversation FROM mailbox_entries
            WHERE account_id = $1 AND folder_id = $2 AND conversation IS NOT NULL
              AND (created_at, id) >= ($3, $4::bigint)) c)
       + (SELECT count(*) FROM mailbox_entries
          WHERE account_id = $1 AND folder_id = $2 AND conversation IS NULL
            AND (created_at, id) >= ($3, $4::bigint)) AS before
"""
_PREVIOUS = """
SELECT e.created_at, e.id FROM mailbox_entries e
WHERE e.account_id = $1 AND e.folder_id = $2 AND (e.created_at, e.id) >= ($3, $4::bigint)
  AND {head}
ORDER BY e.created_at, e.id OFFSET $5 LIMIT 1
""".replace("{head}", _HEAD)


async def conversation_position(
    pool: Pool, *, account_id: int, folder: str, after: tuple[datetime, int] | None, limit: int
) -> tuple[int, int, tuple[datetime, int] | None]:
    """As db.page_position, in conversations: (conversations in the folder, conversations
    on earlier pages, the previous page's cursor or None for the first page)."""
    return await position_of(
        pool, _COUNTS, _PREVIOUS, account_id=account_id, folder=folder, after=after, limit=limit
    )


# A conversation opened from one of its entries: its messages in the account, oldest
# first, in the entry's own folder and in every folder but Trash and Junk (so the
# replies in Sent are there, as Gmail shows them). At most MAX_OPENED, the newest.
MAX_OPENED = 200
_OPEN = """
SELECT * FROM (
    SELECT s.* FROM mailbox_entries head
    JOIN mailbox_entries e ON e.account_id = head.account_id
        AND (e.conversation = head.conversation OR e.id = head.id)
    JOIN message_summaries s ON s.id = e.id
    WHERE head.id = $2 AND head.account_id = $1
      AND (e.folder_id = head.folder_id OR e.folder_id NOT IN ('trash', 'junk'))
    ORDER BY s.created_at DESC, s.id DESC LIMIT $3
) newest ORDER BY created_at, id
"""


async def open_conversation(pool: Pool, *, account_id: int, entry_id: int) -> list[Record]:
    """The conversation of ``entry_id``, oldest first; [] when the entry is not the
    account's."""
    return list(await pool.fetch(_OPEN, account_id, entry_id, MAX_OPENED))


async def expand_conversations(pool: Pool, *, account_id: int, entry_ids: list[int]) -> list[int]:
    """``entry_ids`` and every entry of their conversations in the same folder: what a
    bulk action on conversation rows acts on. Ids of other accounts expand to nothing."""
    rows = await pool.fetch(
        """
        SELECT DISTINCT n.id FROM mailbox_entries e
        JOIN mailbox_entries n ON n.account_id = e.account_id AND n.folder_id = e.folder_id
            AND (n.conversation = e.conversation OR n.id = e.id)
        WHERE e.id = any($2::bigint[]) AND e.account_id = $1
        ORDER BY n.id
        """,
        account_id,
        entry_ids,
    )
    return [row["id"] for row in rows]


# What each (entry, key) of a delivered batch reaches among the account's entries: the
# same two probes as 0023's conversation_of, for the whole batch in one statement. Whether
# a label exists is asked folder by folder: asked of the account alone, a plan made while
# the statistics still call the mailbox empty (a new installation, an import, the ingest
# benchmark: autovacuum analyses a minute later) may take the (account, folder,
# conversation) index and read all of the account's part of it, a cost that grew with
# the mailbox (0.02 -> 0.5 ms a message over 19,000 messages). The
# row with n = 0 says the old entries are still unlabelled and the indexes unbuilt:
# then the trigger labels nothing, and neither may the batch.
_FOUND = """
SELECT 0 AS n, NULL AS conversation
WHERE EXISTS (SELECT 1 FROM conversation_backfill WHERE NOT indexed)
UNION ALL
SELECT q.n, held.conversation
FROM unnest($1::int[], $2::bigint[], $3::text[]) AS q (n, account_id, k)
CROSS JOIN LATERAL (
    SELECT e.conversation
    FROM (
        SELECT m.id FROM messages m
        WHERE m.message_id_header = q.k AND length(m.message_id_header) <= 252
        LIMIT 200
    ) named
    CROSS JOIN LATERAL (
        SELECT account_id, conversation FROM mailbox_entries
        WHERE message_id = named.id OFFSET 0
    ) e
    WHERE e.account_id = q.account_id AND e.conversation IS NOT NULL
    LIMIT 1
) held
UNION ALL
SELECT q.n, q.k
FROM unnest($1::int[], $2::bigint[], $3::text[]) AS q (n, account_id, k)
WHERE EXISTS (
    SELECT 1 FROM folders f
    WHERE f.account_id = q.account_id
      AND (SELECT true FROM mailbox_entries e
           WHERE e.account_id = f.account_id AND e.folder_id = f.id AND e.conversation = q.k
           LIMIT 1)
)
"""


async def label_batch(con: Connection, entries: list[tuple[int, Keys]]) -> list[str | None]:
    """The conversation of each entry (account id, keys) about to be inserted, in order,
    where the batch can set it; None leaves it to the insert trigger (conversation_keys).
    """
    ns, accounts, keys = [], [], []
    for n, (account_id, entry_keys) in enumerate(entries, start=1):
        for key in entry_keys.keys:
            ns.append(n)
            accounts.append(account_id)
            keys.append(key)
    found: list[set[str]] = [set() for _ in entries]
    for row in await con.fetch(_FOUND, ns, accounts, keys):
        if row["n"] == 0:
            return [None] * len(entries)
        found[row["n"] - 1].add(row["conversation"])
    return labels(entries, [frozenset(f) for f in found])


# The labelling of old entries (migration 0018), as db.backfill numbers old UIDs: first
# the indexes, CONCURRENTLY, then the entries in batches by id, each batch one short
# transaction; conversation_of does the merging, so the order is only the arrival order.
# Each index by name: its build, and the drop of a failed build's invalid leftover.
CONVERSATION_INDEXES = {
    "messages_message_id_header_idx": (
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS messages_message_id_header_idx"
        " ON messages (message_id_header) WHERE length(message_id_header) <= 252",
        "DROP INDEX CONCURRENTLY messages_message_id_header_idx",
    ),
    "mailbox_entries_conversation_idx": (
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS mailbox_entries_conversation_idx"
        " ON mailbox_entries (account_id, conversation) WHERE conversation IS NOT NULL",
        "DROP INDEX CONCURRENTLY mailbox_entries_conversation_idx",
    ),
    "mailbox_entries_folder_conversation_idx": (
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS mailbox_entries_folder_conversation_idx"
        " ON mailbox_entries (account_id, folder_id, conversation, created_at DESC, id DESC)"
        " WHERE conversation IS NOT NULL",
        "DROP INDEX CONCURRENTLY mailbox_entries_folder_conversation_idx",
    ),
}
# pg_advisory_lock key of the index builds ("conv" in ASCII): one replica builds them.
INDEX_LOCK_KEY = 0x636F6E76
LABEL_BATCH = 500


async def build_conversation_indexes(pool: Pool) -> bool:
    """Build the indexes the labelling needs, if the backfill is waiting for them. True
    when they exist (now or before); False while another replica builds them."""
    async with pool.acquire() as con:
        if not await con.fetchval("SELECT EXISTS (SELECT 1 FROM conversation_backfill)"):
            return True
        if not await con.fetchval("SELECT pg_try_advisory_lock($1)", INDEX_LOCK_KEY):
            return False
        try:
            for name, (create, drop) in CONVERSATION_INDEXES.items():
                # A CONCURRENTLY build that failed leaves an invalid index behind.
                if await con.fetchval(
                    "SELECT NOT indisvalid FROM pg_index WHERE indexrelid = to_regclass($1)",
                    name,
                ):
                    await con.execute(drop)
                await con.execute(create)
            await con.execute("UPDATE conversation_backfill SET indexed = true")
        finally:
            await con.execute("SELECT pg_advisory_unlock($1)", INDEX_LOCK_KEY)
    return True


async def label_old_entries(pool: Pool, *, batch: int = LABEL_BATCH) -> int | None:
    """Label one batch of entries from before migration 0018: how many entries the batch
    walked, or None when nothing is left to do (or the indexes are not built yet, or
    another replica holds the batch)."""
    async with pool.acquire() as con, con.transaction():
        state = await con.fetchrow(
            "SELECT after_id FROM conversation_backfill WHERE indexed"
            " LIMIT 1 FOR UPDATE SKIP LOCKED"
        )
        if state is None:
            return None
        ids = [
            row["id"]
            for row in await con.fetch(
                "SELECT id FROM mailbox_entries WHERE id > $1 ORDER BY id LIMIT $2",
                state["after_id"],
                batch,
            )
        ]
        # One entry per statement: conversation_of may relabel entries of earlier ones.
        await con.executemany(
            """
            UPDATE mailbox_entries SET conversation = conversation_of(account_id, message_id)
            WHERE id = $1 AND conversation IS NULL
            """,
            [(i,) for i in ids],
        )
        if len(ids) < batch:
            await con.execute("DELETE FROM conversation_backfill")
        else:
            await con.execute("UPDATE conversation_backfill SET after_id = $1", ids[-1])
    return len(ids)
