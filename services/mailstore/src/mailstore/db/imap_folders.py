"""IMAP's folders: list with STATUS, create, rename, delete, SELECT's snapshot.

Folders are named by their full path with "/" as the delimiter (migration 0007); the
IMAP folder API names them, never by id. Each change runs in one transaction under the
folder rows' locks (db.folders' order), so it cannot interleave with a delivery into
the folders concerned. A name that is not the account's raises FolderNotFound, the
same as a name that exists nowhere. Subscriptions are names of their own
(db.subscriptions): a folder shows whether its name is subscribed, a rename moves them.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from mailstore.db import subscriptions
from mailstore.db.accounts import get_account
from mailstore.db.changes import delete_entries
from mailstore.db.connection import Connection, Pool, Record
from mailstore.db.folders import EXISTS, Change, allocate, expunge, lock_folders
from mailstore.db.subscriptions import move_subscriptions
from mailstore.errors import (
    AccountNotFound,
    FolderExists,
    FolderHasChildren,
    FolderNotEmpty,
    FolderNotFound,
    FolderNotReady,
    FolderRefused,
)

INBOX = "INBOX"
DELIMITER = "/"
# The six every account has (migration 0007's standard_folders): never deleted, since
# the web and the consumer refer to them by id.
STANDARD_IDS = frozenset({"inbox", "sent", "drafts", "trash", "junk", "archive"})


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A folder as SELECT shows it (RFC 9051 §6.3.2), read in one snapshot."""

    # The folder's id: the ``folder_id`` of its ``changed`` events, ``folder`` of ``stored``.
    id: str
    uidvalidity: int
    uidnext: int
    highestmodseq: int
    # (low, high) runs of the folder's UIDs, ascending.
    uid_ranges: list[tuple[int, int]]
    exists: int
    keywords: list[str]
    first_unseen: int | None


# Per folder: the STATUS figures (RFC 9051 §6.3.11, RFC 8438 SIZE; RECENT, RFC 3501
# §6.3.10: the messages no session has claimed, migration 0011) and whether a
# folder below it exists. Counting walks each folder's entries: O(entries) per call.
_LIST = """
SELECT f.id, f.name, f.special_use, f.uidvalidity, f.uidnext, f.highestmodseq,
       EXISTS (SELECT 1 FROM subscriptions u WHERE u.account_id = f.account_id
               AND u.name = f.name) AS subscribed,
       EXISTS (SELECT 1 FROM folders c WHERE c.account_id = f.account_id
               AND starts_with(c.name, f.name || '/')) AS children,
       EXISTS (SELECT 1 FROM uid_backfill b WHERE b.account_id = f.account_id
               AND b.folder_id = f.id) AS backfilling,
       s.messages, s.unseen, s.deleted, s.size, s.recent
FROM folders f
CROSS JOIN LATERAL (
    SELECT count(*) AS messages, count(*) FILTER (WHERE NOT e.seen) AS unseen,
           count(*) FILTER (WHERE e.deleted) AS deleted, coalesce(sum(m.size), 0) AS size,
           count(*) FILTER (WHERE e.uid >= f.recent_floor) AS recent
    FROM mailbox_entries e JOIN messages m ON m.id = e.message_id
    WHERE e.account_id = f.account_id AND e.folder_id = f.id
) s
WHERE f.account_id = $1
"""


def normalise(name: str) -> str:
    """INBOX in any case is INBOX (RFC 9051 §5.1); other names are case-sensitive."""
    return INBOX if name.upper() == INBOX else name


async def list_folders(pool: Pool, *, account_id: int) -> list[Record]:
    rows = await pool.fetch(_LIST + " ORDER BY f.name <> 'INBOX', f.name", account_id)
    return list(rows)


async def folder_status(pool: Pool, *, account_id: int, name: str) -> Record:
    row = await pool.fetchrow(_LIST + " AND f.name = $2", account_id, normalise(name))
    if row is None:
        raise FolderNotFound(name)
    return row


_FIND = "SELECT id, name, uidvalidity, special_use FROM folders WHERE account_id = $1 AND name = $2"
_FIND_LOCKED = _FIND + " FOR NO KEY UPDATE"


async def find_folder_of(pool: Pool, *, address: str, name: str) -> Record:
    """The folder ``name`` of the account at ``address`` (lower case): ``account_id`` and
    ``id``, found with the account in one round trip (FETCH asks this for every page);
    AccountNotFound or FolderNotFound when there is no such account or folder."""
    row = await pool.fetchrow(
        "SELECT f.account_id, f.id FROM folders f"
        " WHERE f.account_id = (SELECT a.id FROM accounts a WHERE a.address = $1)"
        " AND f.name = $2",
        address,
        normalise(name),
    )
    if row is None:
        if await get_account(pool, address=address) is None:
            raise AccountNotFound(address)
        raise FolderNotFound(name)
    return row


async def find_folder(con: Connection, account_id: int, name: str, *, lock: bool = False) -> Record:
    """The folder's row (id, name, uidvalidity, special_use); FolderNotFound if none.
    With ``lock``, locked as db.folders.lock_folders locks it, in the same round trip
    (for a transaction that locks this one folder only)."""
    row = await con.fetchrow(
        _FIND_LOCKED if lock else _FIND,
        account_id,
        normalise(name),
    )
    if row is None:
        raise FolderNotFound(name)
    return row


async def create_folder(
    pool: Pool, *, account_id: int, name: str, special_use: str | None, subscribe: bool = False
) -> None:
    """Create ``name`` and its missing parents (RFC 9051 §6.3.4); FolderExists if taken.

    ``subscribe``: subscribe ``name`` and its parents too, in the same transaction. IMAP's
    CREATE does not (only SUBSCRIBE adds to LSUB, RFC 9051 §6.3.7), but a folder made in
    the web must show in mail programs that list subscribed folders only (Thunderbird's
    default), or the person who made it would not find it there.
    """
    name = normalise(name)
    async with pool.acquire() as con, con.transaction():
        if await _exists(con, account_id, name):
            raise FolderExists(name)
        await _create_with_parents(con, account_id, name, special_use)
        if subscribe:
            parts = name.split(DELIMITER)
            names = [DELIMITER.join(parts[:depth]) for depth in range(1, len(parts) + 1)]
            await subscriptions.subscribe_all(con, account_id=account_id, names=names)


async def _exists(con: Connection, account_id: int, name: str) -> bool:
    found: bool = await con.fetchval(
        "SELECT EXISTS (SELECT 1 FROM folders WHERE account_id = $1 AND name = $2)",
        account_id,
        name,
    )
    return found


async def _create_with_parents(
    con: Connection, account_id: int, name: str, special_use: str | None
) -> str:
    """Insert the missing parents of ``name`` and ``name`` itself; the new folder's id.

    ON CONFLICT: a parent created by a concurrent transaction is simply there; the
    folder itself taken meanwhile is FolderExists.
    """
    parts = name.split(DELIMITER)
    parents = [DELIMITER.join(parts[:depth]) for depth in range(1, len(parts))]
    # Parents are not subscribed, nor is the folder: only SUBSCRIBE adds to LSUB (RFC
    # 9051 §6.3.7); a name subscribed before it existed is subscribed now.
    await con.execute(
        """
        INSERT INTO folders (account_id, id, name)
        SELECT $1, 'f' || nextval('folder_id_seq'), p.name
        FROM unnest($2::text[]) WITH ORDINALITY AS p (name, n) ORDER BY p.n
        ON CONFLICT (account_id, name) DO NOTHING
        """,
        account_id,
        parents,
    )
    folder_id: str | None = await con.fetchval(
        """
        INSERT INTO folders (account_id, id, name, special_use)
        VALUES ($1, 'f' || nextval('folder_id_seq'), $2, $3)
        ON CONFLICT (account_id, name) DO NOTHING RETURNING id
        """,
        account_id,
        name,
        special_use,
    )
    if folder_id is None:
        raise FolderExists(name)
    return folder_id


async def rename_folder(pool: Pool, *, account_id: int, name: str, new_name: str) -> list[Change]:
    """Rename a folder and its children (RFC 9051 §6.3.6); the changes to announce.

    Renaming INBOX creates ``new_name`` and moves INBOX's entries into it, leaving
    INBOX empty (its children and its subscription stay); every other rename rewrites
    names only, so UIDs and UIDVALIDITY stay as they are, and moves the subscriptions
    at and below ``name`` along (db.subscriptions).
    """
    name, new_name = normalise(name), normalise(new_name)
    async with pool.acquire() as con, con.transaction():
        source = await find_folder(con, account_id, name)
        if new_name == INBOX or await _exists(con, account_id, new_name):
            raise FolderExists(new_name)
        if new_name.startswith(name + DELIMITER):
            raise FolderRefused(new_name)
        if source["id"] == "inbox":
            return await _rename_inbox(con, account_id, new_name)
        try:
            async with con.transaction():
                await con.execute(
                    """
                    UPDATE folders SET name = $3 || substr(name, length($2) + 1)
                    WHERE account_id = $1 AND (name = $2 OR starts_with(name, $2 || '/'))
                    """,
                    account_id,
                    name,
                    new_name,
                )
                await move_subscriptions(con, account_id, name, new_name)
                parents = new_name.split(DELIMITER)[:-1]
                if parents:
                    parent = DELIMITER.join(parents)
                    if not await _exists(con, account_id, parent):
                        await _create_with_parents(con, account_id, parent, None)
        except asyncpg.UniqueViolationError:
            # A child's new name was taken (a folder below new_name without new_name).
            raise FolderExists(new_name) from None
    return []


async def _rename_inbox(con: Connection, account_id: int, new_name: str) -> list[Change]:
    target = await _create_with_parents(con, account_id, new_name, None)
    await lock_folders(con, account_id=account_id, folder_ids=["inbox", target])
    rows = await con.fetch(
        """
        SELECT id, folder_id, uid FROM mailbox_entries
        WHERE account_id = $1 AND folder_id = 'inbox' ORDER BY id FOR UPDATE
        """,
        account_id,
    )
    if not rows:
        return []
    changes = await expunge(con, account_id=account_id, entries=list(rows))
    moving = sorted(rows, key=lambda row: (row["uid"] or 0, row["id"]))
    allocated = await allocate(con, account_id=account_id, folder_id=target, uids=len(moving))
    first, modseq = allocated["first_uid"], allocated["modseq"]
    uids = list(range(first, first + len(moving)))
    await con.execute(
        """
        UPDATE mailbox_entries e SET folder_id = $2, uid = u.uid, modseq = $4
        FROM unnest($3::bigint[], $5::bigint[]) AS u (id, uid)
        WHERE e.account_id = $1 AND e.id = u.id
        """,
        account_id,
        target,
        [row["id"] for row in moving],
        modseq,
        uids,
    )
    return changes + [
        Change(account_id, row["id"], target, uid, modseq, EXISTS)
        for row, uid in zip(moving, uids, strict=True)
    ]


async def delete_folder(
    pool: Pool, *, account_id: int, name: str, empty_only: bool = False
) -> list[Change]:
    """Delete a folder and its entries (RFC 9051 §6.3.5); the expunges to announce.
    ``empty_only`` (the web's delete) refuses a folder holding entries: FolderNotEmpty,
    decided under the folder's lock, so a message moved in meanwhile is never lost.

    Refused for the six standard folders and for a folder with children: we have no
    \\Noselect folders to leave behind. Trash entries that would be restored into the
    folder are restored into INBOX instead. A subscription to the name stays (RFC 9051
    §6.3.7; db.subscriptions).
    """
    async with pool.acquire() as con, con.transaction():
        folder = await find_folder(con, account_id, name)
        if folder["id"] in STANDARD_IDS:
            raise FolderRefused(name)
        if await con.fetchval(
            """
            SELECT EXISTS (SELECT 1 FROM folders
                           WHERE account_id = $1 AND starts_with(name, $2 || '/'))
            """,
            account_id,
            folder["name"],
        ):
            raise FolderHasChildren(name)
        await lock_folders(con, account_id=account_id, folder_ids=[folder["id"], "trash"])
        rows = await con.fetch(
            """
            SELECT id, folder_id, uid FROM mailbox_entries
            WHERE account_id = $1 AND folder_id = $2 ORDER BY id FOR UPDATE
            """,
            account_id,
            folder["id"],
        )
        if rows and empty_only:
            raise FolderNotEmpty(name)
        changes = await delete_entries(con, account_id, list(rows))
        await con.execute(
            """
            UPDATE mailbox_entries SET restore_folder_id = 'inbox'
            WHERE account_id = $1 AND folder_id = 'trash' AND restore_folder_id = $2
            """,
            account_id,
            folder["id"],
        )
        await con.execute(
            "DELETE FROM folders WHERE account_id = $1 AND id = $2", account_id, folder["id"]
        )
    return changes


async def snapshot(pool: Pool, *, account_id: int, name: str) -> Snapshot:
    """SELECT's view of a folder, every figure from one database snapshot."""
    async with (
        pool.acquire() as con,
        con.transaction(isolation="repeatable_read", readonly=True),
    ):
        folder = await con.fetchrow(
            """
            SELECT f.id, f.uidvalidity, f.uidnext, f.highestmodseq,
                   EXISTS (SELECT 1 FROM uid_backfill b WHERE b.account_id = f.account_id
                           AND b.folder_id = f.id) AS backfilling
            FROM folders f WHERE f.account_id = $1 AND f.name = $2
            """,
            account_id,
            normalise(name),
        )
        if folder is None:
            raise FolderNotFound(name)
        if folder["backfilling"]:
            raise FolderNotReady(name)
        # Gaps and islands: consecutive UIDs share uid - row_number().
        runs = await con.fetch(
            """
            SELECT min(uid) AS low, max(uid) AS high FROM (
                SELECT uid, uid - row_number() OVER (ORDER BY uid) AS island
                FROM mailbox_entries WHERE account_id = $1 AND folder_id = $2
            ) s GROUP BY island ORDER BY low
            """,
            account_id,
            folder["id"],
        )
        facts = await con.fetchrow(
            """
            SELECT min(uid) FILTER (WHERE NOT seen) AS first_unseen,
                   coalesce(array_agg(DISTINCT k) FILTER (WHERE k IS NOT NULL), '{}')
                       AS keywords
            FROM mailbox_entries LEFT JOIN LATERAL unnest(keywords) AS k ON true
            WHERE account_id = $1 AND folder_id = $2
            """,
            account_id,
            folder["id"],
        )
    ranges = [(row["low"], row["high"]) for row in runs]
    return Snapshot(
        id=folder["id"],
        uidvalidity=folder["uidvalidity"],
        uidnext=folder["uidnext"],
        highestmodseq=folder["highestmodseq"],
        uid_ranges=ranges,
        exists=sum(high - low + 1 for low, high in ranges),
        keywords=sorted(facts["keywords"]),
        first_unseen=facts["first_unseen"],
    )


async def claim_recent(
    pool: Pool, *, account_id: int, name: str, claim: bool = True
) -> tuple[int, int] | None:
    """Claim the UIDs no session has seen as \\Recent (RFC 3501 §2.3.2): (low, high),
    UIDs low..high-1, or None when there are none. The UPDATE locks the folder row, so
    concurrent claims take turns and each UID goes to one claim only (migration 0011).
    Without ``claim`` (EXAMINE) the same UIDs, left unclaimed."""
    # Read first, without a lock: most claims find nothing (every session told of a
    # new message asks, and the first takes it), and locking the row would make each
    # of them a write that waits its turn behind STORE and APPEND and flushes the WAL
    # at commit. A message committed after this read is claimed by the next claim
    # (this session's too, once it is told of it).
    row = await pool.fetchrow(
        "SELECT recent_floor AS low, uidnext AS high FROM folders"
        " WHERE account_id = $1 AND name = $2",
        account_id,
        normalise(name),
    )
    if row is None:
        raise FolderNotFound(name)
    if claim and row["low"] < row["high"]:
        row = await pool.fetchrow(
            """
            UPDATE folders f SET recent_floor = f.uidnext
            FROM (SELECT id, recent_floor FROM folders
                  WHERE account_id = $1 AND name = $2 FOR UPDATE) old
            WHERE f.account_id = $1 AND f.id = old.id
            RETURNING old.recent_floor AS low, f.uidnext AS high
            """,
            account_id,
            normalise(name),
        )
        if row is None:  # deleted meanwhile
            raise FolderNotFound(name)
    if row["low"] >= row["high"]:
        return None
    return row["low"], row["high"]
