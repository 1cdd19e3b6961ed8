"""IMAP SEARCH in a folder (mailstore.imap_search has the program and its semantics).

A program without text or SENT* keys is one SQL query. So is one whose only such keys
are SUBJECT, FROM, TO, CC and BCC, for the messages that hold their stored texts
(``messages.imap_search``, migration 0016, copied onto each entry by 0024: such a query
reads the folder's entries and no message row); the others, stored before it and not
yet backfilled, are decided on their octets. Otherwise SQL narrows the folder to the
messages that may match and Python decides on their octets, read in batches of
SEARCH_BATCH; that reading is bounded per request: at most MAX_SEARCH_MESSAGES
messages or MAX_SEARCH_BYTES octets, else SearchTooCostly (413 ``limit``, the
gateway's NO [LIMIT]) before any is read.
"""

from __future__ import annotations

import asyncio
from typing import Any

from mailstore.db.connection import Pool
from mailstore.db.imap_folders import find_folder
from mailstore.errors import SearchTooCostly
from mailstore.imap_search import (
    HEADER_END,
    HEADER_LATERAL,
    SEARCH_TEXTS,
    Candidate,
    Params,
    has_header_end,
    matches,
    needs_body,
    needs_raw,
    prefilter,
    stored_keys,
)

MAX_SEARCH_MESSAGES = 5000
MAX_SEARCH_BYTES = 256 * 1024 * 1024
SEARCH_BATCH = 200
_FLAG_COLUMNS = ("seen", "answered", "flagged", "deleted", "draft")


def _decide(program: dict[str, Any], candidates: list[Candidate]) -> list[int]:
    return [candidate.uid for candidate in candidates if matches(program, candidate)]


async def search(pool: Pool, *, account_id: int, name: str, program: dict[str, Any]) -> list[int]:
    """The UIDs of the folder's messages that match ``program`` (validated), ascending."""
    async with pool.acquire() as con:
        folder = await find_folder(con, account_id, name)
    params = Params(3)
    where = prefilter(program, params)
    joined = "FROM mailbox_entries e JOIN messages m ON m.id = e.message_id"
    scope = f"WHERE e.account_id = $1 AND e.folder_id = $2 AND ({where})"
    # Only the folder's entries unless a condition names the message (a size): flags,
    # sets, dates and the stored texts are the entry's (migration 0024).
    source = f"{joined if params.message else 'FROM mailbox_entries e'} {scope}"
    args = [account_id, folder["id"], *params.values]
    if not needs_raw(program):
        rows = await pool.fetch(f"SELECT e.uid {source} ORDER BY e.uid", *args)
        return [row["uid"] for row in rows]
    stored = stored_keys(program)
    if stored is not None:
        return await _search_stored(pool, program, source, args, stored)
    # The limit counts what the keys SQL decides alone would leave, as it always has;
    # the messages read are then narrowed by the header text too.
    cost = await pool.fetchrow(
        f"SELECT count(*) AS messages, coalesce(sum(m.size), 0) AS octets {joined} {scope}",
        *args,
    )
    if cost["messages"] > MAX_SEARCH_MESSAGES or cost["octets"] > MAX_SEARCH_BYTES:
        raise SearchTooCostly(cost["messages"], cost["octets"])
    params = Params(3)
    where = prefilter(program, params, text=True)
    source = f"{joined} {HEADER_LATERAL} WHERE e.account_id = $1 AND e.folder_id = $2 AND ({where})"
    args = [account_id, folder["id"], *params.values]
    after = f"${3 + len(params.values)}"
    # Header keys need only the header: its octets through the end the stored
    # structure gives (migration 0008), checked below, instead of the whole message.
    whole_messages = needs_body(program)
    octets = "m.raw" if whole_messages else f"substring(m.raw from 1 for {HEADER_END})"
    statement = (
        "SELECT e.uid, e.seen, e.answered, e.flagged, e.deleted, e.draft, e.keywords,"
        f" e.modseq, e.created_at, m.size, m.id AS message_id, {octets} AS raw"
        f" {source} AND e.uid > {after} ORDER BY e.uid LIMIT {SEARCH_BATCH}"
    )
    found: list[int] = []
    last = 0
    while True:
        rows = await pool.fetch(statement, *args, last)
        raws = [row["raw"] for row in rows]
        if not whole_messages:
            raws = await whole_headers(pool, [row["message_id"] for row in rows], raws)
        # Header parsing and case folding are CPU work: off the event loop.
        found += await asyncio.to_thread(_decide, program, _candidates(rows, raws))
        if len(rows) < SEARCH_BATCH:
            return found
        last = rows[-1]["uid"]


async def _search_stored(
    pool: Pool, program: dict[str, Any], source: str, args: list[object], stored: list[str]
) -> list[int]:
    """A program whose keys SQL decides exactly for a message that holds the ``stored``
    members of ``imap_search``: one query, which reads no octets; a message without them
    (``unsure``) is read and decided like any other, within the same limit."""
    keys = f"${len(args) + 1}"
    rows = await pool.fetch(
        "SELECT e.uid, e.seen, e.answered, e.flagged, e.deleted, e.draft, e.keywords,"
        " e.modseq, e.created_at, e.message_id,"
        f" NOT coalesce({SEARCH_TEXTS} ?& {keys}::text[], false) AS unsure"
        f" {source} ORDER BY e.uid",
        *args,
        stored,
    )
    unsure = [row for row in rows if row["unsure"]]
    if not unsure:
        return [row["uid"] for row in rows]
    sizes = dict(
        await pool.fetch(
            "SELECT id, size FROM messages WHERE id = ANY($1::text[])",
            list({row["message_id"] for row in unsure}),
        )
    )
    octets = sum(sizes.get(row["message_id"], 0) for row in unsure)
    if len(unsure) > MAX_SEARCH_MESSAGES or octets > MAX_SEARCH_BYTES:
        raise SearchTooCostly(len(unsure), octets)
    decided: set[int] = set()
    for first in range(0, len(unsure), SEARCH_BATCH):
        batch = [
            {**dict(row), "size": sizes.get(row["message_id"], 0)}
            for row in unsure[first : first + SEARCH_BATCH]
        ]
        ids = [row["message_id"] for row in batch]
        heads = dict(
            await pool.fetch(
                f"SELECT m.id, substring(m.raw from 1 for {HEADER_END})"  # noqa: S608 - constant
                " FROM messages m WHERE m.id = ANY($1::text[])",
                ids,
            )
        )
        raws = await whole_headers(pool, ids, [heads.get(i, b"") for i in ids])
        decided |= set(await asyncio.to_thread(_decide, program, _candidates(batch, raws)))
    return [row["uid"] for row in rows if not row["unsure"] or row["uid"] in decided]


async def whole_headers(pool: Pool, ids: list[str], raws: list[bytes]) -> list[bytes]:
    """``raws`` (prefixes of the messages ``ids`` through the header end their stored
    structure gives), with each prefix that lacks the header's empty line (no structure,
    or one that reads the header differently) replaced by the whole message: it may not
    hold the whole header."""
    short = [i for i, raw in zip(ids, raws, strict=True) if not has_header_end(raw)]
    if not short:
        return raws
    whole = dict(await pool.fetch("SELECT id, raw FROM messages WHERE id = ANY($1)", short))
    return [whole.get(i, raw) for i, raw in zip(ids, raws, strict=True)]


def _candidates(rows: list[Any], raws: list[bytes]) -> list[Candidate]:
    return [
        Candidate(
            uid=row["uid"],
            flags=frozenset(column for column in _FLAG_COLUMNS if row[column]),
            keywords=frozenset(row["keywords"]),
            modseq=row["modseq"],
            internal_date=row["created_at"],
            size=row["size"],
            raw=raw,
        )
        for row, raw in zip(rows, raws, strict=True)
    ]
