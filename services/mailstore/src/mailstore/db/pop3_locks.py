"""The POP3 maildrop lock: one lease row per account (migration 0010).

Taking and renewing are one statement: the row is written when it is absent, held by
the same holder, or expired, and left alone otherwise, so two gateways racing for an
account's lock cannot both get it (the primary key serialises them).
"""

from __future__ import annotations

from datetime import datetime

from mailstore.db.connection import Pool

_TAKE = """
INSERT INTO pop3_locks (account_id, holder, expires_at)
VALUES ($1, $2, now() + $3::integer * interval '1 second')
ON CONFLICT (account_id) DO UPDATE
SET holder = excluded.holder, expires_at = excluded.expires_at
WHERE pop3_locks.holder = excluded.holder OR pop3_locks.expires_at <= now()
RETURNING expires_at
"""


async def take_lock(pool: Pool, *, account_id: int, holder: str, seconds: int) -> datetime | None:
    """Take or renew the account's lock for ``seconds``; its new expiry, or None when
    another holder has it and it has not expired."""
    expires_at: datetime | None = await pool.fetchval(_TAKE, account_id, holder, seconds)
    return expires_at


async def release_lock(pool: Pool, *, account_id: int, holder: str) -> bool:
    """Give the lock back if ``holder`` has it; whether it did."""
    status: str = await pool.execute(
        "DELETE FROM pop3_locks WHERE account_id = $1 AND holder = $2", account_id, holder
    )
    return status != "DELETE 0"
