"""The mail store's maintenance: a background task that runs at start and then periodically.

Each run numbers the entries from before UIDs (db.backfill: batch after batch until none
is left, then the unique UID index), builds the MODSEQ index a store with mail got no
index for at migration 0025, stores the SEARCH texts of the messages from before
them (migration 0016, batch after batch) and copies them onto the entries from before
migration 0024, labels the entries from before conversations
with theirs (db.conversations: its indexes, then batches), deletes forever the Trash
entries older than
``MAILSTORE_TRASH_DAYS`` (and their messages once no entry refers to them), forgets expunge
records older than ``MAILSTORE_VANISHED_DAYS``, expired sessions, and throttle events older
than any window. Every replica runs it; the statements are idempotent (the backfill's
batches skip a folder another replica holds), so overlapping runs only repeat or share
each other's work.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg

from mailstore import db
from mailstore.db import DATABASE_OUTAGE
from mailstore.events import EventPublisher

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class MaintenanceRun:
    numbered_entries: int
    uids_finished: bool
    described_messages: int
    copied_entry_texts: int
    labelled_entries: int
    trash_entries: int
    expunge_records: int
    sessions: int
    throttle_events: int


async def run_once(
    pool: db.Pool, *, trash_days: int, vanished_days: int, events: EventPublisher | None = None
) -> MaintenanceRun:
    numbered = await number_old_entries(pool)
    finished = await db.finish_uids(pool)
    await db.build_modseq_index(pool)
    labelled = await label_old_entries(pool)
    purged = await db.purge_trash(pool, days=trash_days)
    if events is not None and purged:
        addresses = await db.addresses(pool, account_ids={c.account_id for c in purged})
        await events.changed(purged, addresses)
    done = MaintenanceRun(
        numbered_entries=numbered,
        uids_finished=finished,
        described_messages=await describe_old_messages(pool),
        copied_entry_texts=await copy_entry_texts(pool),
        labelled_entries=labelled,
        trash_entries=len({change.entry_id for change in purged}),
        expunge_records=await db.prune_expunged(pool, days=vanished_days),
        sessions=await db.prune_sessions(pool),
        throttle_events=await db.prune_throttle(pool),
    )
    log.info(
        "maintenance: numbered %d entries from before UIDs (schema finished: %s), described "
        "%d messages from before their SEARCH texts, labelled %d entries from before "
        "conversations, purged %d "
        "Trash entries older than %d days, %d expunge records older than %d days, %d expired "
        "sessions, %d old throttle events",
        done.numbered_entries,
        done.uids_finished,
        done.described_messages,
        done.labelled_entries,
        done.trash_entries,
        trash_days,
        done.expunge_records,
        vanished_days,
        done.sessions,
        done.throttle_events,
    )
    return done


async def number_old_entries(pool: db.Pool) -> int:
    """Run backfill batches until no folder is left for this replica; how many entries."""
    numbered = await _until_done(db.number_old_entries, pool)
    if numbered:
        log.info("numbered %d entries from before UIDs", numbered)
    return numbered


async def describe_old_messages(pool: db.Pool) -> int:
    """Run SEARCH-text backfill batches until none is left for this replica; how many."""
    described = await _until_done(db.describe_old_messages, pool)
    if described:
        log.info("stored the SEARCH texts of %d messages from before them", described)
    return described


async def copy_entry_texts(pool: db.Pool) -> int:
    """Run the entries' SEARCH-text batches until none is left for this replica; how many."""
    copied = await _until_done(db.copy_entry_texts, pool)
    if copied:
        log.info("copied their messages' SEARCH texts onto %d entries from before", copied)
    return copied


async def _until_done(batch: Callable[[db.Pool], Awaitable[int | None]], pool: db.Pool) -> int:
    """Run ``batch`` until it answers None (nothing left for this replica); the sum."""
    total = 0
    while (done := await batch(pool)) is not None:
        total += done
    return total


async def label_old_entries(pool: db.Pool) -> int:
    """Give the entries from before conversations theirs (migration 0018): the indexes
    first, then batches until none is left; how many entries."""
    if not await db.build_conversation_indexes(pool):
        return 0
    labelled = await _until_done(db.label_old_entries, pool)
    if labelled:
        log.info("labelled %d entries from before conversations", labelled)
    return labelled


async def maintain(
    pool: db.Pool,
    *,
    trash_days: int,
    vanished_days: int,
    interval: float,
    events: EventPublisher | None = None,
) -> None:
    """Run :func:`run_once` now and every ``interval`` seconds until cancelled."""
    while True:
        try:
            await run_once(pool, trash_days=trash_days, vanished_days=vanished_days, events=events)
        except (*DATABASE_OUTAGE, asyncpg.PostgresError, asyncpg.InterfaceError):
            # The next run tries again; a dead task would stop purging for good.
            log.exception("maintenance failed; next attempt in %.0f s", interval)
        await asyncio.sleep(interval)
