"""Sliding-window rate limits: one row per admitted event, per key.

Only admitted events are stored, so a key holds at most ``limit`` rows and a client that
keeps knocking while throttled is admitted again as soon as its oldest event leaves the
window (and cannot keep someone else's account locked by hammering it).

An event may be counted under several keys at once (a login: per client, per account and
client, per account): it is admitted under all of them or under none, so an attempt that
one limit refuses never fills another. Admitted events can be taken back by their ids
(:func:`release`): a login reserves its events before bcrypt and releases them when the
password was right, so only failures stay counted.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from mailstore.db.connection import Connection, Pool

# First half of the two-integer pg_advisory_xact_lock key ("lt" in ASCII); the second half is
# hashtext(key). Two-integer locks live apart from the migration runner's one-bigint lock, and
# a hash collision between two keys only makes them wait for each other, never miscount.
THROTTLE_LOCK_CLASS = 0x6C74
# The largest window a caller may ask for; older events count for nobody.
MAX_WINDOW_SECONDS = 86_400
# A client that logged in to an account is remembered this long after its last login
# (mailstore/logins.py: such a client is not held to the account's ceiling).
KNOWN_CLIENT_DAYS = 30


@dataclass(frozen=True, slots=True)
class Limit:
    """At most ``limit`` events under ``key`` in the last ``window`` seconds."""

    key: str
    limit: int
    window: int


@dataclass(frozen=True, slots=True)
class Reservation:
    """One event counted under every key, or under none (``retry_after`` > 0)."""

    # Ids of the rows admitted, one per key; empty when refused.
    ids: tuple[int, ...]
    # Per key, events in its window, this one included (whether or not it was admitted).
    counts: tuple[int, ...]
    # Whole seconds until a call would be admitted under every key; 0 when this one was.
    retry_after: int

    @property
    def allowed(self) -> bool:
        return self.retry_after == 0


@dataclass(frozen=True, slots=True)
class ThrottleResult:
    allowed: bool
    # Events in the window, this one included (whether or not it was admitted).
    count: int
    # Whole seconds until a call would be admitted again; 0 when this one was.
    retry_after: int


async def reserve(pool: Pool, limits: Sequence[Limit]) -> Reservation:
    """Count one event under every key of ``limits`` if each is below its limit, else none.

    One transaction, under an advisory lock per key: without the locks two concurrent
    calls could both count limit - 1 and both be admitted (two mail store replicas too).
    """
    if not limits:
        return Reservation(ids=(), counts=(), retry_after=0)
    keys = [limit.key for limit in limits]
    windows = [limit.window for limit in limits]
    async with pool.acquire() as con, con.transaction():
        # In the order of the lock keys, so that two calls sharing keys cannot deadlock.
        await con.execute(
            """
            SELECT pg_advisory_xact_lock($1, h)
            FROM (SELECT DISTINCT hashtext(k) AS h FROM unnest($2::text[]) AS k ORDER BY h) AS s
            """,
            THROTTLE_LOCK_CLASS,
            keys,
        )
        await con.execute(
            """
            DELETE FROM throttle_events AS t
            USING unnest($1::text[], $2::integer[]) AS w (key, seconds)
            WHERE t.key = w.key AND t.at <= now() - w.seconds * interval '1 second'
            """,
            keys,
            windows,
        )
        rows = await con.fetch(
            """
            SELECT w.key, count(t.key) AS stored
            FROM unnest($1::text[]) AS w (key) LEFT JOIN throttle_events AS t ON t.key = w.key
            GROUP BY w.key
            """,
            keys,
        )
        stored = {row["key"]: int(row["stored"]) for row in rows}
        counts = tuple(stored[key] + 1 for key in keys)
        full = [limit for limit in limits if stored[limit.key] >= limit.limit]
        if not full:
            ids = await con.fetch(
                """
                INSERT INTO throttle_events (key, at) SELECT unnest($1::text[]), now()
                RETURNING id
                """,
                keys,
            )
            return Reservation(ids=tuple(row["id"] for row in ids), counts=counts, retry_after=0)
        waits = [await _admitted_again_in(con, limit, stored[limit.key]) for limit in full]
    return Reservation(ids=(), counts=counts, retry_after=max(waits))


async def _admitted_again_in(con: Connection, limit: Limit, stored: int) -> int:
    # Admitted again once stored - limit + 1 events have left the window; normally
    # stored == limit and that is the oldest one (a caller may have lowered the limit).
    leaves_in: float = await con.fetchval(
        """
        SELECT extract(epoch FROM at + $2::integer * interval '1 second' - now())::float8
        FROM throttle_events WHERE key = $1 ORDER BY at OFFSET $3 LIMIT 1
        """,
        limit.key,
        limit.window,
        stored - limit.limit,
    )
    return max(1, math.ceil(leaves_in))


async def hit(pool: Pool, *, key: str, limit: int, window: int) -> ThrottleResult:
    """Count one event for ``key`` in the last ``window`` seconds, admitting at most ``limit``."""
    reservation = await reserve(pool, [Limit(key, limit, window)])
    return ThrottleResult(
        allowed=reservation.allowed,
        count=reservation.counts[0],
        retry_after=reservation.retry_after,
    )


async def release(con: Pool | Connection, *, ids: Sequence[int]) -> None:
    """Take back events admitted by :func:`reserve` (a login whose password was right)."""
    await con.execute("DELETE FROM throttle_events WHERE id = any($1::bigint[])", list(ids))


async def forget(pool: Pool, *, key: str) -> None:
    await pool.execute("DELETE FROM throttle_events WHERE key = $1", key)


async def prune_throttle(pool: Pool) -> int:
    """Delete events older than any window, of keys nobody asked about since, and login
    clients not seen for KNOWN_CLIENT_DAYS; the count is of the events."""
    await pool.execute(
        "DELETE FROM login_clients WHERE last_login_at <= now() - $1::integer * interval '1 day'",
        KNOWN_CLIENT_DAYS,
    )
    status: str = await pool.execute(
        "DELETE FROM throttle_events WHERE at <= now() - $1::integer * interval '1 second'",
        MAX_WINDOW_SECONDS,
    )
    return int(status.rpartition(" ")[2])
