"""Sliding-window rate limits: one row per admitted event, per key.

Only admitted events are stored, so a key holds at most ``limit`` rows and a client that
keeps knocking while throttled is admitted again as soon as its oldest event leaves the
window (and cannot keep someone else's account locked by hammering it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from mailstore.db.connection import Pool

# First half of the two-integer pg_advisory_xact_lock key ("lt" in ASCII); the second half is
# hashtext(key). Two-integer locks live apart from the migration runner's one-bigint lock, and
# a hash collision between two keys only makes them wait for each other, never miscount.
THROTTLE_LOCK_CLASS = 0x6C74
# The largest window a caller may ask for; older events count for nobody.
MAX_WINDOW_SECONDS = 86_400


@dataclass(frozen=True, slots=True)
class ThrottleResult:
    allowed: bool
    # Events in the window, this one included (whether or not it was admitted).
    count: int
    # Whole seconds until a call would be admitted again; 0 when this one was.
    retry_after: int


async def hit(pool: Pool, *, key: str, limit: int, window: int) -> ThrottleResult:
    """Count one event for ``key`` in the last ``window`` seconds, admitting at most ``limit``."""
    async with pool.acquire() as con, con.transaction():
        # Without the lock two concurrent calls could both count limit - 1 and both be admitted.
        await con.execute(
            "SELECT pg_advisory_xact_lock($1, hashtext($2))", THROTTLE_LOCK_CLASS, key
        )
        await con.execute(
            """
            DELETE FROM throttle_events
            WHERE key = $1 AND at <= now() - $2::integer * interval '1 second'
            """,
            key,
            window,
        )
        stored: int = await con.fetchval("SELECT count(*) FROM throttle_events WHERE key = $1", key)
        if stored < limit:
            await con.execute("INSERT INTO throttle_events (key, at) VALUES ($1, now())", key)
            return ThrottleResult(allowed=True, count=stored + 1, retry_after=0)
        # Admitted again once stored - limit + 1 events have left the window; normally
        # stored == limit and that is the oldest one (a caller may have lowered the limit).
        leaves_in: float = await con.fetchval(
            """
            SELECT extract(epoch FROM at + $2::integer * interval '1 second' - now())::float8
            FROM throttle_events WHERE key = $1 ORDER BY at OFFSET $3 LIMIT 1
            """,
            key,
            window,
            stored - limit,
        )
    return ThrottleResult(allowed=False, count=stored + 1, retry_after=max(1, math.ceil(leaves_in)))


async def forget(pool: Pool, *, key: str) -> None:
    await pool.execute("DELETE FROM throttle_events WHERE key = $1", key)


async def prune_throttle(pool: Pool) -> int:
    """Delete events older than any window, of keys nobody asked about since."""
    status: str = await pool.execute(
        "DELETE FROM throttle_events WHERE at <= now() - $1::integer * interval '1 second'",
        MAX_WINDOW_SECONDS,
    )
    return int(status.rpartition(" ")[2])
