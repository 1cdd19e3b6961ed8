"""Accounts: creation, lookup, logins, the directory."""

from __future__ import annotations

import asyncpg

from mailstore.db.connection import Pool, Record
from mailstore.errors import AddressTaken


async def create_account(pool: Pool, *, address: str, name: str, password_hash: str) -> Record:
    try:
        return await pool.fetchrow(
            """
            INSERT INTO accounts (address, name, password_hash) VALUES ($1, $2, $3)
            RETURNING id, address, name, created_at
            """,
            address,
            name,
            password_hash,
        )
    except asyncpg.UniqueViolationError:
        raise AddressTaken(address) from None


async def get_account(pool: Pool, *, address: str) -> Record | None:
    return await pool.fetchrow(
        "SELECT id, address, name, password_hash FROM accounts WHERE address = $1", address
    )


async def addresses(pool: Pool, *, account_ids: set[int]) -> dict[int, str]:
    rows = await pool.fetch(
        "SELECT id, address FROM accounts WHERE id = any($1::bigint[])", list(account_ids)
    )
    return {row["id"]: row["address"] for row in rows}


async def record_login(pool: Pool, *, account_id: int) -> None:
    await pool.execute("UPDATE accounts SET last_login_at = now() WHERE id = $1", account_id)


async def directory(pool: Pool, *, prefix: str, limit: int) -> list[Record]:
    # starts_with() instead of LIKE: a prefix holding % or _ needs no escaping.
    return list(
        await pool.fetch(
            """
        SELECT address, name FROM accounts
        WHERE starts_with(address, $1) OR starts_with(lower(name), $1)
        ORDER BY address LIMIT $2
        """,
            prefix.lower(),
            limit,
        )
    )
