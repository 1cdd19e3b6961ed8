"""Folders' UIDs and MODSEQs: allocation and expunge records, inside the caller's transaction.

Every path that adds an entry to a folder, takes one out or changes its flags does so
under the folder's row lock (RFC 3501 §2.3.1.1: UIDs strictly ascending, never reused;
RFC 7162 §3.1: MODSEQs likewise): :func:`lock_folders` first, in (account, folder) order,
so that two transactions that need several folders (a consumer batch, a move) cannot
deadlock; then :func:`allocate` per folder. The lock is held until COMMIT, so two mail
store replicas hand out UIDs and MODSEQs of a folder in the order their transactions
commit. Entry rows are locked after their folders, in id order.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from mailstore.db.connection import Connection, Pool, Record

# The kinds of change a ``changed`` event reports (docs/architecture.md).
EXISTS = "exists"
EXPUNGE = "expunge"
FLAGS = "flags"


@dataclass(frozen=True, slots=True)
class Change:
    """One entry's change in one folder: what an IMAP session would be told of it."""

    account_id: int
    entry_id: int
    folder_id: str
    # None for an entry from before the UIDs whose folder is not numbered yet.
    uid: int | None
    modseq: int
    kind: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a change of entries did: how many of the named entries exist, the changes."""

    matched: int
    changes: list[Change]

    @property
    def changed(self) -> int:
        """Entries changed (a move is two changes of one entry)."""
        return len(self.changed_ids)

    @property
    def changed_ids(self) -> list[int]:
        """The ids of the entries changed, in order: what an undo may take back."""
        return sorted({change.entry_id for change in self.changes})


async def lock_folders(con: Connection, *, account_id: int, folder_ids: Iterable[str]) -> None:
    """Lock these folders of one account, in order, until the transaction ends."""
    await lock_folders_of(con, [(account_id, folder_id) for folder_id in folder_ids])


async def lock_folders_of(con: Connection, keys: Iterable[tuple[int, str]]) -> None:
    """Lock (account, folder) pairs of any accounts, in order, until the transaction ends."""
    pairs = sorted(set(keys))
    if not pairs:
        return
    await con.execute(
        """
        SELECT 1 FROM folders
        WHERE (account_id, id) IN (SELECT * FROM unnest($1::bigint[], $2::text[]))
        ORDER BY account_id, id FOR NO KEY UPDATE
        """,
        [account for account, _ in pairs],
        [folder for _, folder in pairs],
    )


async def allocate(con: Connection, *, account_id: int, folder_id: str, uids: int) -> Record:
    """Take ``uids`` UIDs (``first_uid`` onwards) and the next MODSEQ (``modseq``) of a
    folder locked by :func:`lock_folders`; ``uids=0`` takes a MODSEQ only."""
    return await con.fetchrow(
        """
        UPDATE folders SET uidnext = uidnext + $3, highestmodseq = highestmodseq + 1
        WHERE account_id = $1 AND id = $2
        RETURNING uidnext - $3 AS first_uid, highestmodseq AS modseq
        """,
        account_id,
        folder_id,
        uids,
    )


async def expunge(con: Connection, *, account_id: int, entries: list[Record]) -> list[Change]:
    """Record the expunge of ``entries`` (locked rows with id, folder_id, uid) from their
    folders, one MODSEQ per folder; the caller deletes or moves the rows themselves."""
    changes: list[Change] = []
    for folder_id, rows in _by_folder(entries).items():
        modseq: int = (await allocate(con, account_id=account_id, folder_id=folder_id, uids=0))[
            "modseq"
        ]
        numbered = [row["uid"] for row in rows if row["uid"] is not None]
        if numbered:
            await con.execute(
                """
                INSERT INTO expunged (account_id, folder_id, uid, modseq)
                SELECT $1, $2, uid, $4 FROM unnest($3::bigint[]) AS u(uid)
                """,
                account_id,
                folder_id,
                numbered,
                modseq,
            )
        changes += [
            Change(account_id, row["id"], folder_id, row["uid"], modseq, EXPUNGE) for row in rows
        ]
    return changes


# Expunge records the maintenance task forgets per transaction.
PRUNE_BATCH = 5000


async def prune_expunged(pool: Pool, *, days: int) -> int:
    """Forget the expunge records older than ``days``, raising each folder's
    forgotten_modseq past them (RFC 7162 §3.2.5: a client asking about older changes
    then sends its known UIDs); how many were forgotten."""
    pruned = 0
    while True:
        async with pool.acquire() as con, con.transaction():
            doomed = await con.fetch(
                """
                SELECT account_id, folder_id, uid, modseq FROM expunged
                WHERE expunged_at < now() - $1::integer * interval '1 day' LIMIT $2
                """,
                days,
                PRUNE_BATCH,
            )
            await lock_folders_of(con, [(r["account_id"], r["folder_id"]) for r in doomed])
            await con.execute(
                """
                WITH gone AS (
                    DELETE FROM expunged x USING unnest($1::bigint[], $2::text[], $3::bigint[])
                        AS d (account_id, folder_id, uid)
                    WHERE x.account_id = d.account_id AND x.folder_id = d.folder_id
                      AND x.uid = d.uid
                    RETURNING x.account_id, x.folder_id, x.modseq
                )
                UPDATE folders f SET forgotten_modseq = greatest(f.forgotten_modseq, g.top)
                FROM (SELECT account_id, folder_id, max(modseq) AS top FROM gone
                      GROUP BY account_id, folder_id) AS g
                WHERE f.account_id = g.account_id AND f.id = g.folder_id
                """,
                [r["account_id"] for r in doomed],
                [r["folder_id"] for r in doomed],
                [r["uid"] for r in doomed],
            )
        pruned += len(doomed)
        if len(doomed) < PRUNE_BATCH:
            return pruned


def _by_folder(entries: list[Record]) -> dict[str, list[Record]]:
    found: dict[str, list[Record]] = {}
    for row in entries:
        found.setdefault(row["folder_id"], []).append(row)
    return found
