"""Storage quotas (migration 0020): each account's own limit and the bytes it holds.

``accounts.quota_used`` is kept by the migration's triggers on mailbox_entries, in the
transaction that inserts or deletes entries; these functions only read it.
"""

from __future__ import annotations

from collections.abc import Sequence

from mailstore.db.connection import Connection, Pool, Record
from mailstore.errors import OverQuota
from mailstore.quotas import usage_of


async def get_quota(pool: Pool, *, account_id: int) -> Record:
    """The account's ``quota`` (its own limit, None for the default) and ``quota_used``."""
    row: Record = await pool.fetchrow(
        "SELECT quota, quota_used FROM accounts WHERE id = $1", account_id
    )
    return row


async def set_quota(pool: Pool, *, address: str, quota: int | None) -> bool:
    """Set the account's own limit in bytes, or None to follow LOCALPOST_DEFAULT_QUOTA;
    False when no account has the address."""
    done = await pool.execute("UPDATE accounts SET quota = $2 WHERE address = $1", address, quota)
    return bool(done != "UPDATE 0")


async def recipient_quotas(pool: Pool, *, account_ids: Sequence[int]) -> list[Record]:
    """``quota`` and ``quota_used`` of the accounts a recipient reaches (the enabled
    ones db.recipient_check found: the address is not expanded twice)."""
    rows: list[Record] = await pool.fetch(
        "SELECT id, quota, quota_used FROM accounts WHERE id = any($1::bigint[]) ORDER BY id",
        list(account_ids),
    )
    return rows


async def require_room(con: Connection, *, account_id: int, default_quota: int) -> None:
    """OverQuota when the account now holds more than its limit: called after an APPEND,
    COPY or draft inserted its entries, inside the caller's transaction, which the error
    rolls back. The insert's trigger locked the account's row, so a concurrent change
    cannot slip between the count and this check."""
    row = await con.fetchrow("SELECT quota, quota_used FROM accounts WHERE id = $1", account_id)
    usage = usage_of(used=row["quota_used"], own=row["quota"], default=default_quota)
    if usage.limit is not None and usage.used > usage.limit:
        raise OverQuota(used=usage.used, limit=usage.limit)
