"""The mail store's maintenance: a background task that runs at start and then periodically.

Each run deletes forever the Trash entries older than ``MAILSTORE_TRASH_DAYS`` (and their
messages once no entry refers to them), expired sessions, and throttle events older than any
window. Every replica runs it; the statements are idempotent, so overlapping runs only
repeat each other's work.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import asyncpg

from mailstore import db
from mailstore.db import DATABASE_OUTAGE

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class MaintenanceRun:
    trash_entries: int
    sessions: int
    throttle_events: int


async def run_once(pool: db.Pool, *, trash_days: int) -> MaintenanceRun:
    done = MaintenanceRun(
        trash_entries=len(await db.purge_trash(pool, days=trash_days)),
        sessions=await db.prune_sessions(pool),
        throttle_events=await db.prune_throttle(pool),
    )
    log.info(
        "maintenance: purged %d Trash entries older than %d days, %d expired sessions, "
        "%d old throttle events",
        done.trash_entries,
        trash_days,
        done.sessions,
        done.throttle_events,
    )
    return done


async def maintain(pool: db.Pool, *, trash_days: int, interval: float) -> None:
    """Run :func:`run_once` now and every ``interval`` seconds until cancelled."""
    while True:
        try:
            await run_once(pool, trash_days=trash_days)
        except (*DATABASE_OUTAGE, asyncpg.PostgresError, asyncpg.InterfaceError):
            # The next run tries again; a dead task would stop purging for good.
            log.exception("maintenance failed; next attempt in %.0f s", interval)
        await asyncio.sleep(interval)
