"""Administrators and one-time password resets (issues 15 and 16).

A reset link's secret is made by the caller and only its SHA-256 reaches the database, as
for sessions and API tokens (db/sessions.py).
"""

from __future__ import annotations

from datetime import datetime

from mailstore.db.accounts import set_password
from mailstore.db.connection import Pool, Record


async def set_admin(pool: Pool, *, address: str, admin: bool) -> bool:
    """Grant or revoke the admin role; False when there is no account at ``address``."""
    status: str = await pool.execute(
        "UPDATE accounts SET is_admin = $2 WHERE address = $1", address, admin
    )
    return status != "UPDATE 0"


async def set_disabled(pool: Pool, *, address: str, disabled: bool) -> bool:
    """Disable or enable the account; False when there is none at ``address``. Disabling
    ends its sessions and drops its reset link in the same transaction; its API tokens
    stay (refused while it is disabled: db.use_token), as do its mail and folders."""
    async with pool.acquire() as con, con.transaction():
        account_id = await con.fetchval(
            """
            UPDATE accounts SET disabled_at = CASE WHEN $2 THEN coalesce(disabled_at, now()) END
            WHERE address = $1 RETURNING id
            """,
            address,
            disabled,
        )
        if account_id is None:
            return False
        if disabled:
            await con.execute("DELETE FROM sessions WHERE account_id = $1", account_id)
            await con.execute("DELETE FROM password_resets WHERE account_id = $1", account_id)
        return True


async def grant_admins(pool: Pool, *, addresses: list[str]) -> list[str]:
    """Make the accounts at ``addresses`` administrators; the addresses that have one."""
    rows = await pool.fetch(
        "UPDATE accounts SET is_admin = true WHERE address = any($1::text[]) RETURNING address",
        addresses,
    )
    return [row["address"] for row in rows]


async def list_admins(pool: Pool) -> list[Record]:
    return list(
        await pool.fetch("SELECT address, name FROM accounts WHERE is_admin ORDER BY address")
    )


async def create_reset(pool: Pool, *, account_id: int, token_hash: bytes, hours: int) -> datetime:
    """A reset link for the account, valid ``hours``; it replaces any earlier one."""
    expires_at: datetime = await pool.fetchval(
        """
        INSERT INTO password_resets (token_hash, account_id, expires_at)
        VALUES ($1, $2, now() + $3::integer * interval '1 hour')
        ON CONFLICT (account_id) DO UPDATE
        SET token_hash = excluded.token_hash, created_at = now(), expires_at = excluded.expires_at
        RETURNING expires_at
        """,
        token_hash,
        account_id,
        hours,
    )
    return expires_at


async def reset_owner(pool: Pool, *, token_hash: bytes) -> Record | None:
    """The account a live (unused, unexpired) reset link is for."""
    return await pool.fetchrow(
        """
        SELECT a.address, a.name, r.expires_at FROM password_resets r
        JOIN accounts a ON a.id = r.account_id
        WHERE r.token_hash = $1 AND r.expires_at > now() AND a.disabled_at IS NULL
        """,
        token_hash,
    )


async def use_reset(
    pool: Pool, *, token_hash: bytes, password_hash: str, revoke_tokens: bool
) -> Record | None:
    """Consume a live reset link: the account's new password, every session of it ended
    (as at a password change), its API tokens too when ``revoke_tokens``. None when the
    link is unknown, used or expired. The DELETE takes the row, so of two uses at once
    only one finds it."""
    async with pool.acquire() as con, con.transaction():
        account_id = await con.fetchval(
            "DELETE FROM password_resets WHERE token_hash = $1 AND expires_at > now()"
            " RETURNING account_id",
            token_hash,
        )
        if account_id is None:
            return None
        await set_password(
            con,
            account_id=account_id,
            password_hash=password_hash,
            keep_session=None,
            revoke_tokens=revoke_tokens,
        )
        return await con.fetchrow("SELECT address, name FROM accounts WHERE id = $1", account_id)
