"""Searching one account's mail: the statements, and the order in which they are tried."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime

import asyncpg

from mailstore.db.connection import Connection, Pool, Record
from mailstore.errors import InvalidSearch
from mailstore.search import (
    ALL_FOLDERS,
    SearchFilter,
    prefixed_tsquery,
    relaxed_tsquery,
    tsquery_lexemes,
)

# Each search filter is one of two constant fragments: its condition when the filter is
# used, or a test of its (unused) parameter that holds, which the planner folds away or
# runs once ("One-Time Filter"). An ``($n IS NULL OR condition)`` instead keeps the
# condition in every plan, and every row paid for the unused NOT EXISTS subqueries.
# Parameter numbers are fixed; only constant texts are joined (docs/performance.md,
# "Reading", has the plans). $3 is the tsquery's text (prefixed_tsquery): with custom
# plans the cast is folded into a constant the GIN index is planned with.
_MESSAGE_FILTERS = (
    (
        "AND m.search @@ $3::text::tsquery",
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
    # CJK runs (search.split_cjk) as substrings of the indexed document's lexemes: the
    # parser keeps a run between spaces or punctuation as one lexeme, so a run typed is
    # inside one. No index helps: such a search reads the account's mail newest first
    # until a page is full (docs/search.md).
    (
        """AND NOT EXISTS (
            SELECT 1 FROM unnest($14::text[]) AS t(term)
            WHERE strpos(m.search::text, t.term) = 0)""",
        "AND cardinality($14::text[]) = 0",
    ),
    # Attachments as the web lists them (has_attachments: disposition attachment), so an
    # inline image's name is not one. Testing has_attachments first spares most messages
    # the lookup (no match among 30,000 entries: 356 -> 261 ms, docs/search.md).
    (
        """AND m.has_attachments AND NOT EXISTS (
            SELECT 1 FROM unnest($15::text[]) AS t(term)
            WHERE NOT EXISTS (
                SELECT 1 FROM attachments a
                WHERE a.message_id = m.id AND a.disposition = 'attachment'
                    AND strpos(lower(a.filename), t.term) > 0))""",
        "AND cardinality($15::text[]) = 0",
    ),
)
# On ``s``: message_summaries, or mailbox_entries (same column names) in the walk.
_ENTRY_FILTERS = (
    ("AND s.seen = $8::boolean", "AND $8::boolean IS NULL"),
    ("AND s.created_at < $9::timestamptz", "AND $9::timestamptz IS NULL"),
    ("AND s.created_at >= $10::timestamptz", "AND $10::timestamptz IS NULL"),
    (
        "AND (s.created_at, s.id) < ($11::timestamptz, $12::bigint)",
        "AND $11::timestamptz IS NULL AND $12::bigint IS NULL",
    ),
)
_ACCOUNT = "WHERE s.account_id = $1 AND s.folder_id = any($2::text[])"
_ORDER = "ORDER BY s.created_at DESC, s.id DESC"
# No free text: the account's mail newest first, filtered (mailbox_entries_account_time_idx).
_PLAIN = ("SELECT s.* FROM message_summaries s JOIN messages m ON m.id = s.gateway_id", _ACCOUNT)
# The walk's test of a phrase ("ask kind"). A phrase is checked against the words'
# positions in each entry's tsvector, several times the cost of testing words alone (a
# walk of 2,500 entries: 55 ms, against 7 ms for one word). $17 is the query with every
# phrase made an AND of its words (search.relaxed_tsquery); it is tested first, so that
# positions are read only for messages holding all the words. Written as CASE and
# ts_match_vq (the function behind @@) so that it is no index condition: with @@ the
# planner, estimating a handful of rows for the two tests together, turned the walk into
# a GIN scan with a recheck of every candidate (92 ms). Without a phrase the walk keeps
# the plain @@ test, and the planner its choice of the index for a rare word.
_WALK_PHRASE = """AND CASE WHEN ts_match_vq(m.search, $17::text::tsquery)
        THEN ts_match_vq(m.search, $3::text::tsquery) END"""
# Free text, first try: only the account's newest $16 entries. Enough for a common word;
# when they hold fewer matches than a page, a longer walk or _INDEXED answers instead.
# The outer query orders by the walk's own columns, which the planner knows come sorted:
# it then stops at the page's last match instead of joining all $14 entries and sorting.
_WALK_HEAD = ("SELECT s.* FROM (SELECT s.id, s.created_at FROM mailbox_entries s", _ACCOUNT)
_WALK_MIDDLE = (
    _ORDER,
    "LIMIT $16) AS recent",
    "JOIN message_summaries s ON s.id = recent.id JOIN messages m ON m.id = s.gateway_id",
    "WHERE true",
)
_WALK_TAIL = "ORDER BY recent.created_at DESC, recent.id DESC LIMIT $13"
# How many entries a walk of $16 saw: fewer than $16, and it saw them all, so what it
# found is complete. The parameters it does not use are selected only so that every
# statement takes the same ones.
_WALKED = (
    """SELECT count(*), $3::text, $4::text[], $5::text[], $6::text[], $7::boolean, $13::bigint,
        $14::text[], $15::text[], $17::text
    FROM (SELECT 1 FROM mailbox_entries s""",
    _ACCOUNT,
)
# Free text, rare: the GIN index finds every message with the words, once (MATERIALIZED:
# the planner's guess of how many there are is what made it walk instead).
_INDEXED = (
    """WITH hits AS MATERIALIZED (
        SELECT id FROM messages WHERE search @@ $3::text::tsquery)
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


def search_statements(used: tuple[bool, ...], *, phrase: bool = False) -> tuple[str, ...]:
    """The statements for the filters in use (a flag per filter, message filters first,
    free text the very first): the plain one; or with free text the walk, its count and
    the indexed one. Each takes $1-$15; the walk and its count also $16 (the walk's
    length) and $17 (the free text relaxed, read only when ``phrase``)."""
    split = len(_MESSAGE_FILTERS)
    message = _chosen(_MESSAGE_FILTERS, used[:split])
    entry = _chosen(_ENTRY_FILTERS, used[split:])
    if not used[0]:
        return ("\n".join([*_PLAIN, *message, *entry, _TAIL]),)
    text = [_WALK_PHRASE] if phrase else [message[0], "AND $17::text IS NULL"]
    walk = [*_WALK_HEAD, *entry, *_WALK_MIDDLE, *text, *message[1:], _WALK_TAIL]
    # hits holds only messages with the words: testing them again made the planner
    # recheck every candidate twice (a second bitmap scan, hashed).
    indexed = [*_INDEXED, *message[1:], *entry, _TAIL]
    walked = [*_WALKED, *entry, "LIMIT $16) AS recent"]
    return "\n".join(walk), "\n".join(walked), "\n".join(indexed)


async def search(
    pool: Pool,
    *,
    account_id: int,
    query: SearchFilter,
    after: tuple[datetime, int] | None,
    limit: int,
) -> list[Record]:
    """Search one account's mail, newest first, after the keyset position ``after``.

    Raises :class:`InvalidSearch` for an ``in:`` folder the account does not have.
    """
    with _refused_tsquery():
        async with pool.acquire() as con:
            folders = await _folders(con, account_id=account_id, folder=query.folder)
            tsquery = None if query.text is None else await _tsquery(con, query.text)
        message_values = (
            tsquery,
            list(query.from_terms),
            list(query.to_terms),
            list(query.subject_terms),
            query.has_attachment,
            list(query.cjk_terms),
            list(query.filename_terms),
        )
        entry_values = (query.read, query.before, query.after, after[0] if after else None)
        used = tuple(
            bool(v) if isinstance(v, list) else v is not None
            for v in (*message_values, *entry_values)
        )
        params = (
            account_id,
            folders,
            *message_values[:5],
            *entry_values,
            after[1] if after else None,
            limit,
            *message_values[5:],
        )
        return await _run_search(pool, tsquery, params, used, limit)


async def _folders(con: Connection, *, account_id: int, folder: str | None) -> list[str]:
    """The folder ids searched: one, all, or (no ``in:``) all but Trash and Junk."""
    ids: list[str] = await con.fetchval(
        "SELECT coalesce(array_agg(id), '{}') FROM folders WHERE account_id = $1", account_id
    )
    if folder is None:
        return [i for i in ids if i not in ("trash", "junk")]
    if folder == ALL_FOLDERS:
        return ids
    if folder not in ids:
        raise InvalidSearch(f"in:{folder} is no folder of this account")
    return [folder]


async def _tsquery(con: Connection, text: str) -> str:
    """The free text as a tsquery's text, its words made prefixes (prefixed_tsquery)."""
    plain: str = await con.fetchval("SELECT websearch_to_tsquery('simple', $1::text)::text", text)
    words = tsquery_lexemes(plain)
    if not words:
        return plain
    # english_stem returns {} for a stop word and the word itself when it has no suffix.
    rows = await con.fetch(
        "SELECT w, (ts_lexize('english_stem', w))[1] AS stem FROM unnest($1::text[]) AS w",
        words,
    )
    return prefixed_tsquery(plain, {r["w"]: r["stem"] for r in rows if r["stem"]})


TOO_COMPLEX = "is too complex: use fewer operators (- or quotes) and more words"
# PostgreSQL's errors for text its tsquery parser gives up on: "tsquery stack too small"
# (a run of "-", which websearch_to_tsquery stacks as NOTs; XX000), a syntax error in
# the relaxed query's ::tsquery (42601), "tsquery is too large" (54000).
_TSQUERY_ERRORS = (
    asyncpg.InternalServerError,
    asyncpg.PostgresSyntaxError,
    asyncpg.ProgramLimitExceededError,
)


@contextlib.contextmanager
def _refused_tsquery() -> Iterator[None]:
    """The searcher's InvalidSearch (422) for a query PostgreSQL would not parse."""
    try:
        yield
    except _TSQUERY_ERRORS as exc:
        # These classes are broad (XX000 is any internal error): only tsquery's are ours.
        if "tsquery" not in str(exc):
            raise
        raise InvalidSearch(TOO_COMPLEX) from exc


async def _run_search(
    pool: Pool, tsquery: str | None, params: tuple[object, ...], used: tuple[bool, ...], limit: int
) -> list[Record]:
    async with pool.acquire() as con, con.transaction():
        # asyncpg prepares each statement, and after five runs PostgreSQL may reuse a
        # generic plan, made without the words: keep planning with them.
        await con.execute("SET LOCAL plan_cache_mode = force_custom_plan")
        if tsquery is None:
            (plain,) = search_statements(used)
            return list(await con.fetch(plain, *params))
        relaxed = relaxed_tsquery(tsquery)
        # The newest matches among the newest entries are the newest of all, so a full
        # page from a walk is the answer. A walk that found some matches tells how far a
        # page is: walk that far if it is near; else (or still short) the index decides.
        walk, walked, indexed = search_statements(used, phrase=relaxed is not None)
        window = WALK_ENTRIES
        rows = await con.fetch(walk, *params, window, relaxed)
        if len(rows) < limit and await con.fetchval(walked, *params, window, relaxed) < window:
            return list(rows)  # the walk saw the whole mailbox
        if rows and len(rows) < limit:
            window = WALK_ENTRIES * 2 * limit // len(rows)
            if window <= MAX_WALK_ENTRIES:
                rows = await con.fetch(walk, *params, window, relaxed)
                if (
                    len(rows) < limit
                    and await con.fetchval(walked, *params, window, relaxed) < window
                ):
                    return list(rows)
        if len(rows) < limit:
            rows = await con.fetch(indexed, *params)
    return list(rows)
