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


# The /admin pages (issue 16): accounts, invitations, the registration mode, the mail
# that reached nobody. The caller records each change in the audit log (db/audit.py).


async def list_accounts(
    pool: Pool, *, contains: str, after: str | None, limit: int
) -> list[Record]:
    """Accounts whose address holds ``contains`` (any case), by address; ``after``: the
    last address of the previous page (keyset paging)."""
    return list(
        await pool.fetch(
            """
            SELECT address, name, is_admin, disabled_at IS NOT NULL AS disabled, created_at,
                   last_login_at, quota, quota_used
            FROM accounts
            WHERE strpos(address, lower($1)) > 0 AND ($2::text IS NULL OR address > $2)
            ORDER BY address LIMIT $3
            """,
            contains,
            after,
            limit,
        )
    )


async def account_counts(pool: Pool) -> Record:
    return await pool.fetchrow(
        """
        SELECT count(*) AS accounts, count(*) FILTER (WHERE is_admin) AS admins,
               count(*) FILTER (WHERE disabled_at IS NOT NULL) AS disabled
        FROM accounts
        """
    )


async def is_last_admin(pool: Pool, *, address: str) -> bool:
    """Whether ``address`` is the only enabled administrator. The admins' rows are
    locked (inside the caller's transaction), so two admins taking the role from each
    other at once cannot both see the other one left."""
    rows = await pool.fetch(
        "SELECT address FROM accounts WHERE is_admin AND disabled_at IS NULL ORDER BY id FOR UPDATE"
    )
    return [row["address"] for row in rows] == [address]


async def create_invitation(
    pool: Pool, *, token_hash: bytes, address: str | None, created_by: str, days: int
) -> Record:
    return await pool.fetchrow(
        """
        INSERT INTO invitations (token_hash, address, created_by, expires_at)
        VALUES ($1, $2, $3, now() + $4::integer * interval '1 day')
        RETURNING id, address, created_by, created_at, expires_at
        """,
        token_hash,
        address,
        created_by,
        days,
    )


async def list_invitations(pool: Pool, *, limit: int) -> list[Record]:
    """Newest first, live or not (the page says which)."""
    return list(
        await pool.fetch(
            """
            SELECT id, address, created_by, created_at, expires_at, used_at, used_by,
                   revoked_at, (used_at IS NULL AND revoked_at IS NULL AND expires_at > now())
                   AS live
            FROM invitations ORDER BY id DESC LIMIT $1
            """,
            limit,
        )
    )


async def revoke_invitation(pool: Pool, *, invitation_id: int) -> Record | None:
    """Revoke a live invitation; None when there is no live one with that id."""
    return await pool.fetchrow(
        """
        UPDATE invitations SET revoked_at = now()
        WHERE id = $1 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > now()
        RETURNING id, address
        """,
        invitation_id,
    )


async def invitation(pool: Pool, *, token_hash: bytes) -> Record | None:
    """The live invitation with this secret (the sign-up page shows its address)."""
    return await pool.fetchrow(
        """
        SELECT id, address, expires_at FROM invitations
        WHERE token_hash = $1 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > now()
        """,
        token_hash,
    )


async def get_setting(pool: Pool, *, name: str) -> Record | None:
    return await pool.fetchrow(
        "SELECT value, changed_at, changed_by FROM service_settings WHERE name = $1", name
    )


async def set_setting(pool: Pool, *, name: str, value: str, changed_by: str) -> None:
    await pool.execute(
        """
        INSERT INTO service_settings (name, value, changed_by) VALUES ($1, $2, $3)
        ON CONFLICT (name) DO UPDATE
        SET value = excluded.value, changed_by = excluded.changed_by, changed_at = now()
        """,
        name,
        value,
        changed_by,
    )


# "The mail that reached nobody": a message stored for recipients none of whom has an
# account has no mailbox entry at all (db/delivery.py keeps it so that an administrator
# can see it). A message some account got is not listed here.
_UNCLAIMED = "NOT EXISTS (SELECT 1 FROM mailbox_entries e WHERE e.message_id = m.id)"


async def list_unclaimed(pool: Pool, *, before: str | None, limit: int) -> list[Record]:
    """Newest first by id (the gateway's ULID sorts by arrival); ``before``: the last id
    of the previous page."""
    return list(
        await pool.fetch(
            f"""
            SELECT m.id, m.mail_from, m.rcpt_to, m.subject, m.from_address, m.date, m.size,
                   m.received_at
            FROM messages m WHERE {_UNCLAIMED} AND ($1::text IS NULL OR m.id < $1)
            ORDER BY m.id DESC LIMIT $2
            """,  # noqa: S608 - a constant, no input
            before,
            limit,
        )
    )


async def unclaimed_raw(pool: Pool, *, message_id: str) -> bytes | None:
    raw: bytes | None = await pool.fetchval(
        f"SELECT raw FROM messages m WHERE m.id = $1 AND {_UNCLAIMED}",  # noqa: S608
        message_id,
    )
    return raw


async def delete_unclaimed(pool: Pool, *, message_id: str) -> bool:
    status: str = await pool.execute(
        f"DELETE FROM messages m WHERE m.id = $1 AND {_UNCLAIMED}",  # noqa: S608
        message_id,
    )
    return status != "DELETE 0"
