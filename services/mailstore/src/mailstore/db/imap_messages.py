"""IMAP's messages in a selected folder: FETCH data, STORE, COPY, MOVE, EXPUNGE, changes.

Messages are named by (folder, UID set); a set is a list of (low, high) ranges sent as
two bigint arrays, so a set's size costs nothing. UIDs absent from the folder are
ignored, as RFC 9051 §6.4 has it for UID commands. Each change locks its folders first
and the entries after them, in id order (db.folders), takes one MODSEQ per folder
changed, and returns the changes for the ``changed`` event.

Flags: ``\\Seen`` is the ``seen`` column the web shows as read; the other system flags
are columns of their own and keywords a text array (migration 0007). Keywords compare
case-sensitively, as stored.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Literal

from mailstore.db.accounts import get_account
from mailstore.db.changes import delete_entries
from mailstore.db.connection import Connection, Pool, Record
from mailstore.db.folders import EXISTS, FLAGS, Change, allocate, expunge, lock_folders
from mailstore.db.imap_folders import find_folder, find_folder_of, normalise
from mailstore.errors import AccountNotFound, FolderNotFound, ModseqForgotten
from mailstore.imap_structure import describe

Ranges = list[tuple[int, int]]

# System flag -> column; the order FETCH FLAGS lists them in.
FLAG_COLUMNS = {
    "\\Seen": "seen",
    "\\Answered": "answered",
    "\\Flagged": "flagged",
    "\\Deleted": "deleted",
    "\\Draft": "draft",
}
# substring()'s positions are PostgreSQL integers.
_MAX_INT4 = 2**31 - 1
# Rows FETCH reads per query while it streams.
FETCH_BATCH = 500
# A FETCH that will read sections has each message of at most this many octets sent
# with its line (``octets``), instead of one more /raw request per message: a batch
# then holds at most FETCH_BATCH x INLINE_OCTETS (16 MiB).
INLINE_OCTETS = 32 * 1024


@dataclass(frozen=True, slots=True)
class FlagState:
    uid: int
    flags: list[str]
    keywords: list[str]
    modseq: int


def flags_of(row: Record) -> list[str]:
    return [flag for flag, column in FLAG_COLUMNS.items() if row[column]]


def state_of(row: Record) -> FlagState:
    return FlagState(row["uid"], flags_of(row), list(row["keywords"]), row["modseq"])


def _bounds(ranges: Ranges) -> tuple[list[int], list[int]]:
    return [low for low, _ in ranges], [high for _, high in ranges]


def _span(ranges: Ranges) -> tuple[int, int]:
    """The lowest and highest UID of the set (nothing for an empty one).

    Given to the queries beside the ranges as ``e.uid BETWEEN`` them: the EXISTS over
    the ranges alone is no index condition, so a FETCH or STORE of the last 50 UIDs
    walked the whole folder's UID index (about 20 ms a call at 2,000 messages, the most
    costly statement of bench/imap.py's mixed load).
    """
    if not ranges:
        return 1, 0
    return min(low for low, _ in ranges), max(high for _, high in ranges)


# --- FETCH --------------------------------------------------------------------------------


# What of a message's description a FETCH wants: none, all of it, or the envelope alone
# (FETCH ENVELOPE without BODY or BODYSTRUCTURE, as a mail program's list of messages).
Structure = Literal[False, "all", "envelope"]


async def fetch(
    pool: Pool,
    *,
    account_id: int,
    folder_id: str,
    ranges: Ranges,
    changed_since: int | None,
    structure: Structure,
    octets: bool = False,
) -> AsyncIterator[Record]:
    """The entries of the set, ascending UID, FETCH_BATCH per query (keyset on UID).

    With ``structure`` each row has ``imap_structure``: the description as JSON text
    (``"all"``) or an object of its envelope alone (``"envelope"``), computed and saved
    here for a message stored before migration 0008. Text, so that it goes out into
    the response as PostgreSQL wrote it, never decoded and encoded again: a page of
    envelopes is mostly descriptions. With ``octets``, ``raw`` holds the octets of a
    message of at most INLINE_OCTETS (None for a larger one).
    """
    lows, highs = _bounds(ranges)
    after = 0
    while True:
        rows = await pool.fetch(
            """
            SELECT e.id, e.uid, e.modseq, e.created_at, e.seen, e.answered, e.flagged, e.deleted,
                              e.draft, e.keywords, e.message_id, e.folder_id, m.size,
                   CASE WHEN m.imap_structure IS NULL THEN NULL
                       WHEN $8::text = 'all' THEN m.imap_structure::text
                       WHEN $8::text = 'envelope' THEN jsonb_build_object(
                           'envelope', m.imap_structure -> 'envelope')::text
                   END AS imap_structure,
                   CASE WHEN $9 AND m.size <= $10 THEN m.raw END AS raw
            FROM mailbox_entries e JOIN messages m ON m.id = e.message_id
            WHERE e.account_id = $1 AND e.folder_id = $2
              AND EXISTS (SELECT 1 FROM unnest($3::bigint[], $4::bigint[]) AS r (lo, hi)
                          WHERE e.uid BETWEEN r.lo AND r.hi)
              AND e.uid > $5 AND e.modseq > $6 AND e.uid BETWEEN $11 AND $12
            ORDER BY e.uid LIMIT $7
            """,
            account_id,
            folder_id,
            lows,
            highs,
            after,
            changed_since or 0,
            FETCH_BATCH,
            structure or None,
            octets,
            INLINE_OCTETS,
            *_span(ranges),
        )
        for row in rows:
            if structure and row["imap_structure"] is None:
                described = await structure_of(pool, row["message_id"])
                if described is not None and structure == "envelope":
                    described = {"envelope": described["envelope"]}  # type: ignore[index]
                text = None if described is None else json.dumps(described)
                yield {**dict(row), "imap_structure": text}
            else:
                yield row
        if len(rows) < FETCH_BATCH:
            return
        after = rows[-1]["uid"]


async def structure_of(pool: Pool, gateway_id: str) -> object:
    """The message's stored description, computed and saved first if it has none."""
    raw: bytes | None = await pool.fetchval("SELECT raw FROM messages WHERE id = $1", gateway_id)
    if raw is None:
        return None
    described = describe(raw)
    await pool.execute(
        "UPDATE messages SET imap_structure = $2 WHERE id = $1 AND imap_structure IS NULL",
        gateway_id,
        described,
    )
    return described


async def raw_of(
    pool: Pool, *, address: str, name: str, uid: int, offset: int, length: int
) -> Record | None:
    """The gateway id and octet length of one entry's raw message, and its first
    ``length`` octets from ``offset`` (``head``): a small message in one query, the
    account (``address``, lower case) found in it too; a large one read on in slices.
    None when the folder has no such UID; AccountNotFound or FolderNotFound when there
    is no such account or folder."""
    found = await pool.fetchrow(
        """
        SELECT m.id AS gateway_id, octet_length(m.raw) AS size,
               substring(m.raw FROM $4 FOR $5) AS head
        FROM folders f
        JOIN mailbox_entries e ON e.account_id = f.account_id AND e.folder_id = f.id
        JOIN messages m ON m.id = e.message_id
        WHERE f.account_id = (SELECT a.id FROM accounts a WHERE a.address = $1)
          AND f.name = $2 AND e.uid = $3
        """,
        address,
        normalise(name),
        uid,
        # substring() takes integers; no message is that long, so the head is empty.
        min(offset, _MAX_INT4 - 1) + 1,
        length,
    )
    if found is None:
        await find_folder_of(pool, address=address, name=name)
    return found


# --- STORE --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoreOutcome:
    updated: list[FlagState]
    # UIDs that failed UNCHANGEDSINCE (RFC 7162 §3.1.3).
    modified: list[int]
    changes: list[Change]


async def store(
    pool: Pool,
    *,
    account_id: int,
    name: str,
    ranges: Ranges,
    mode: str,
    flags: set[str],
    keywords: set[str],
    unchanged_since: int | None,
) -> StoreOutcome:
    """Add, remove or replace (``mode``) flags and keywords of the set's entries.

    Entries whose flags change take one new MODSEQ; the others are reported as they
    are (the gateway answers FETCH FLAGS for each, RFC 9051 §6.4.6).
    """
    async with pool.acquire() as con, con.transaction():
        folder = await find_folder(con, account_id, name, lock=True)
        rows = await _lock_set(con, account_id, folder["id"], ranges)
        plans: list[tuple[Record, set[str], set[str]]] = []
        modified: list[int] = []
        for row in rows:
            if unchanged_since is not None and row["modseq"] > unchanged_since:
                modified.append(row["uid"])
                continue
            have, words = set(flags_of(row)), set(row["keywords"])
            if mode == "add":
                new, new_words = have | flags, words | keywords
            elif mode == "remove":
                new, new_words = have - flags, words - keywords
            else:
                new, new_words = set(flags), set(keywords)
            plans.append((row, new, new_words))
        changing = [
            (row, new, words)
            for row, new, words in plans
            if new != set(flags_of(row)) or words != set(row["keywords"])
        ]
        states = {row["uid"]: state_of(row) for row, _, _ in plans}
        changes: list[Change] = []
        if changing:
            # The folder's next MODSEQ (db.folders.allocate, on the row locked above) and
            # the entries' update in one statement: one round trip fewer per STORE.
            updated = await con.fetch(
                """
                WITH m AS (
                    UPDATE folders SET highestmodseq = highestmodseq + 1
                    WHERE account_id = $1 AND id = $2 RETURNING highestmodseq
                )
                UPDATE mailbox_entries e SET seen = u.seen, answered = u.answered,
                    flagged = u.flagged, deleted = u.deleted, draft = u.draft,
                    keywords = string_to_array(u.keywords, ' '), modseq = m.highestmodseq
                FROM m, unnest($3::bigint[], $4::bool[], $5::bool[], $6::bool[], $7::bool[],
                               $8::bool[], $9::text[])
                    AS u (id, seen, answered, flagged, deleted, draft, keywords)
                WHERE e.account_id = $1 AND e.id = u.id
                RETURNING e.id, e.uid, e.modseq, e.seen, e.answered, e.flagged, e.deleted,
                          e.draft, e.keywords
                """,
                account_id,
                folder["id"],
                [row["id"] for row, _, _ in changing],
                *([flag in new for _, new, _ in changing] for flag in FLAG_COLUMNS),
                [" ".join(sorted(words)) for _, _, words in changing],
            )
            for row in updated:
                states[row["uid"]] = state_of(row)
                change = Change(
                    account_id, row["id"], folder["id"], row["uid"], row["modseq"], FLAGS
                )
                changes.append(change)
    return StoreOutcome(sorted(states.values(), key=lambda s: s.uid), modified, changes)


async def _lock_set(
    con: Connection, account_id: int, folder_id: str, ranges: Ranges
) -> list[Record]:
    """The set's entries of a folder locked by the caller, locked in id order, by UID."""
    lows, highs = _bounds(ranges)
    rows = await con.fetch(
        """
        SELECT e.id, e.uid, e.modseq, e.created_at, e.seen, e.answered, e.flagged, e.deleted,
               e.draft, e.keywords, e.message_id, e.folder_id, e.role, e.restore_folder_id
        FROM mailbox_entries e
        WHERE e.account_id = $1 AND e.folder_id = $2 AND e.uid BETWEEN $5 AND $6
              AND EXISTS (SELECT 1 FROM unnest($3::bigint[], $4::bigint[]) AS r (lo, hi)
                          WHERE e.uid BETWEEN r.lo AND r.hi)
        ORDER BY e.id FOR UPDATE
        """,
        account_id,
        folder_id,
        lows,
        highs,
        *_span(ranges),
    )
    return sorted(rows, key=lambda row: row["uid"])


# --- COPY, MOVE, EXPUNGE ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CopyOutcome:
    uidvalidity: int
    pairs: list[tuple[int, int]]
    changes: list[Change]


async def copy(
    pool: Pool, *, account_id: int, name: str, ranges: Ranges, target: str, move: bool
) -> CopyOutcome:
    """COPY (new entries of the same stored messages) or MOVE (the entries themselves,
    expunged from the source, RFC 6851 §3.3) into ``target``, new UIDs ascending in
    source UID order (RFC 4315 §3's COPYUID pairs). Neither adds to the account's quota
    usage, which counts a message once however many of its folders hold it: both are
    allowed even over the quota (RFC 9208 §4.3's OVERQUOTA never applies)."""
    async with pool.acquire() as con, con.transaction():
        source = await find_folder(con, account_id, name)
        destination = await find_folder(con, account_id, target)
        await lock_folders(con, account_id=account_id, folder_ids=[source["id"], destination["id"]])
        rows = await _lock_set(con, account_id, source["id"], ranges)
        if not rows:
            return CopyOutcome(destination["uidvalidity"], [], [])
        changes = await expunge(con, account_id=account_id, entries=rows) if move else []
        allocated = await allocate(
            con, account_id=account_id, folder_id=destination["id"], uids=len(rows)
        )
        first, modseq = allocated["first_uid"], allocated["modseq"]
        uids = list(range(first, first + len(rows)))
        statement = _MOVE if move else _COPY
        ids = await con.fetch(
            statement,
            account_id,
            destination["id"],
            [row["id"] for row in rows],
            uids,
            modseq,
        )
    changes += [
        Change(account_id, row["id"], destination["id"], row["uid"], modseq, EXISTS)
        for row in sorted(ids, key=lambda row: row["uid"])
    ]
    pairs = [(row["uid"], uid) for row, uid in zip(rows, uids, strict=True)]
    return CopyOutcome(destination["uidvalidity"], pairs, changes)


# Into Trash an entry remembers where it came from (the web's restore; a Trash entry
# has a restore folder, migration 0001's CHECK); out of Trash it forgets it.
_MOVE = """
UPDATE mailbox_entries e SET folder_id = $2, uid = u.uid, modseq = $5,
    restore_folder_id = CASE WHEN $2 = 'trash' THEN
        CASE WHEN e.folder_id = 'trash' THEN e.restore_folder_id ELSE e.folder_id END END,
    trashed_at = CASE WHEN $2 = 'trash' THEN coalesce(e.trashed_at, now()) END
FROM unnest($3::bigint[], $4::bigint[]) AS u (id, uid)
WHERE e.account_id = $1 AND e.id = u.id RETURNING e.id, e.uid
"""
# The copy keeps the internal date (RFC 9051 §6.4.7), flags and role of its source.
_COPY = """
INSERT INTO mailbox_entries (account_id, message_id, role, folder_id, seen, answered,
    flagged, deleted, draft, keywords, created_at, uid, modseq, restore_folder_id,
    trashed_at, imap_search)
SELECT e.account_id, e.message_id, e.role, $2, e.seen, e.answered, e.flagged, e.deleted,
       e.draft, e.keywords, e.created_at, u.uid, $5,
       CASE WHEN $2 = 'trash' THEN
           CASE WHEN e.folder_id = 'trash' THEN e.restore_folder_id ELSE e.folder_id END END,
       CASE WHEN $2 = 'trash' THEN coalesce(e.trashed_at, now()) END,
       coalesce(e.imap_search, (SELECT m.imap_search FROM messages m WHERE m.id = e.message_id))
FROM mailbox_entries e JOIN unnest($3::bigint[], $4::bigint[]) AS u (id, uid) ON e.id = u.id
WHERE e.account_id = $1 ORDER BY u.uid RETURNING id, uid
"""


async def expunge_deleted(
    pool: Pool, *, account_id: int, name: str, ranges: Ranges | None
) -> tuple[list[int], list[Change]]:
    """Delete the folder's \\Deleted entries (those of ``ranges`` only, when given:
    UID EXPUNGE, RFC 4315 §2.1); the UIDs expunged, ascending."""
    async with pool.acquire() as con, con.transaction():
        folder = await find_folder(con, account_id, name, lock=True)
        rows = await _lock_set(con, account_id, folder["id"], ranges or [(1, 2**32 - 1)])
        doomed = [row for row in rows if row["deleted"]]
        changes = await delete_entries(con, account_id, doomed)
    return [row["uid"] for row in doomed], changes


# --- changes since a MODSEQ ---------------------------------------------------------------


async def changes_since(
    pool: Pool, *, address: str, name: str, modseq: int
) -> tuple[int, list[int], list[FlagState]]:
    """The folder's HIGHESTMODSEQ, the UIDs expunged after ``modseq`` and the entries
    changed after it (RFC 7162 §3.2.5); ModseqForgotten when expunges after it may have
    been forgotten. One statement, so one snapshot: every session of a folder asks
    this after each change there (the gateway's feeds, and each NOOP and IDLE), so it
    is one round trip, the account (``address``, lower case) found in it too;
    AccountNotFound or FolderNotFound when there is no such account or folder."""
    found = await pool.fetchrow(_CHANGES, address, normalise(name), modseq)
    if found is None:
        if await get_account(pool, address=address) is None:
            raise AccountNotFound(address)
        raise FolderNotFound(name)
    if modseq < found["forgotten_modseq"]:
        raise ModseqForgotten(name)
    uids: list[int] = found["uids"] or []
    columns = {column: found[column] for column in FLAG_COLUMNS.values()}
    changed = [
        FlagState(
            uid,
            [flag for flag, column in FLAG_COLUMNS.items() if columns[column][n]],
            found["keywords"][n].split(),
            found["modseqs"][n],
        )
        for n, uid in enumerate(uids)
    ]
    return found["highestmodseq"], list(found["vanished"]), changed


# Each changed entry's columns as parallel arrays in UID order; keywords are atoms
# (views.imap checks them), so joined with spaces they split back unchanged.
_CHANGES = f"""
SELECT f.highestmodseq, f.forgotten_modseq,
       ARRAY(SELECT x.uid FROM expunged x
             WHERE x.account_id = f.account_id AND x.folder_id = f.id AND x.modseq > $3
             ORDER BY x.uid) AS vanished,
       c.*
FROM folders f CROSS JOIN LATERAL (
    SELECT array_agg(e.uid ORDER BY e.uid) AS uids,
           array_agg(e.modseq ORDER BY e.uid) AS modseqs,
           {", ".join(f"array_agg(e.{c} ORDER BY e.uid) AS {c}" for c in FLAG_COLUMNS.values())},
           array_agg(array_to_string(e.keywords, ' ') ORDER BY e.uid) AS keywords
    FROM mailbox_entries e
    WHERE e.account_id = f.account_id AND e.folder_id = f.id AND e.modseq > $3
) AS c
WHERE f.account_id = (SELECT a.id FROM accounts a WHERE a.address = $1) AND f.name = $2
"""  # noqa: S608 - only column names of FLAG_COLUMNS go into the text
