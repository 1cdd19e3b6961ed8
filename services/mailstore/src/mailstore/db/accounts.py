"""Accounts: creation, lookup, logins, the directory."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from mailstore.db.changes import delete_unreferenced
from mailstore.db.connection import Connection, Pool, Record
from mailstore.db.throttle import KNOWN_CLIENT_DAYS, release
from mailstore.errors import AddressTaken, InvitationNotFound


async def create_account(
    pool: Pool, *, address: str, name: str, password_hash: str, invitation: bytes | None = None
) -> Record:
    """``invitation``: the SHA-256 of a sign-up invitation's secret (LOCALPOST_REGISTRATION
    =invite), used up in the same transaction: InvitationNotFound when it is not live or
    is for another address. Its row lock makes a second sign-up with the same link wait
    for this one, then find it used; a refused account leaves the invitation live."""
    try:
        async with pool.acquire() as con, con.transaction():
            if invitation is not None:
                await _use_invitation(con, invitation, address)
            # The lock db.recipients.add_alias and db.lists.create_list take: no alias
            # or list appears meanwhile.
            await con.execute("SELECT pg_advisory_xact_lock(hashtext($1))", address)
            row = await con.fetchrow(
                """
                INSERT INTO accounts (address, name, password_hash)
                SELECT $1, $2, $3
                WHERE NOT EXISTS (SELECT 1 FROM retired_addresses WHERE address = $1)
                  AND NOT EXISTS (SELECT 1 FROM aliases WHERE address = $1)
                  AND NOT EXISTS (SELECT 1 FROM lists WHERE address = $1)
                RETURNING id, address, name, created_at
                """,
                address,
                name,
                password_hash,
            )
            if row is None:
                # A deleted account's address (taken for good, migration 0014 says why),
                # an alias's or a list's. The same answer as a live account's, so sign-up reveals
                # nothing more. Raised inside: an invitation used above is not used up.
                raise AddressTaken(address)
    except asyncpg.UniqueViolationError:
        raise AddressTaken(address) from None
    return row


async def _use_invitation(con: Connection, token_hash: bytes, address: str) -> None:
    used = await con.fetchval(
        """
        UPDATE invitations SET used_at = now(), used_by = $2
        WHERE token_hash = $1 AND used_at IS NULL AND revoked_at IS NULL
          AND expires_at > now() AND (address IS NULL OR address = $2)
        RETURNING id
        """,
        token_hash,
        address,
    )
    if used is None:
        raise InvitationNotFound()


async def get_account(pool: Pool, *, address: str) -> Record | None:
    return await pool.fetchrow(
        """
        SELECT id, address, name, password_hash, disabled_at IS NOT NULL AS disabled
        FROM accounts WHERE address = $1
        """,
        address,
    )


async def addresses(pool: Pool, *, account_ids: set[int]) -> dict[int, str]:
    rows = await pool.fetch(
        "SELECT id, address FROM accounts WHERE id = any($1::bigint[])", list(account_ids)
    )
    return {row["id"]: row["address"] for row in rows}


async def record_login(
    pool: Pool, *, account_id: int, client: str | None, reservation: Sequence[int]
) -> None:
    """A correct password: the login's throttle events are taken back (successes never
    count) and ``client``, unless None, is remembered as one that logged in."""
    async with pool.acquire() as con, con.transaction():
        await release(con, ids=reservation)
        await con.execute("UPDATE accounts SET last_login_at = now() WHERE id = $1", account_id)
        if client is not None:
            await con.execute(
                """
                INSERT INTO login_clients (account_id, client) VALUES ($1, $2)
                ON CONFLICT (account_id, client) DO UPDATE SET last_login_at = now()
                """,
                account_id,
                client,
            )


async def is_known_client(pool: Pool, *, account_id: int, client: str) -> bool:
    """Whether ``client`` logged in to the account within KNOWN_CLIENT_DAYS."""
    known: bool = await pool.fetchval(
        """
        SELECT EXISTS (
            SELECT FROM login_clients WHERE account_id = $1 AND client = $2
            AND last_login_at > now() - $3::integer * interval '1 day'
        )
        """,
        account_id,
        client,
        KNOWN_CLIENT_DAYS,
    )
    return known


async def change_password(
    pool: Pool,
    *,
    account_id: int,
    password_hash: str,
    keep_session: int | None,
    revoke_tokens: bool,
) -> None:
    """The new password; every session but ``keep_session`` (an id) ends with the old one,
    in the same transaction, so no session outlives the password it was opened with."""
    async with pool.acquire() as con, con.transaction():
        await set_password(
            con,
            account_id=account_id,
            password_hash=password_hash,
            keep_session=keep_session,
            revoke_tokens=revoke_tokens,
        )


async def set_password(
    con: Connection,
    *,
    account_id: int,
    password_hash: str,
    keep_session: int | None,
    revoke_tokens: bool,
) -> None:
    """change_password's statements, inside the caller's transaction (a reset's too)."""
    await con.execute(
        "UPDATE accounts SET password_hash = $2 WHERE id = $1", account_id, password_hash
    )
    await con.execute(
        "DELETE FROM sessions WHERE account_id = $1 AND id IS DISTINCT FROM $2",
        account_id,
        keep_session,
    )
    if revoke_tokens:
        await con.execute("DELETE FROM api_tokens WHERE account_id = $1", account_id)


async def delete_account(pool: Pool, *, account_id: int) -> None:
    """The account and all it holds: entries, folders, sessions, tokens (ON DELETE
    CASCADE), and every message no other account still has an entry of. Its address
    is retired, never to be registered again.

    The aliases that reach this account alone go with it (the cascade), and their
    addresses are free again: the list memberships and catch-alls naming them go too, as
    when an alias is removed (lists.delete_forgetting), so that an account registered
    later with such an address inherits none. The account's own memberships and
    catch-alls would reach nobody, and go as well."""
    async with pool.acquire() as con, con.transaction():
        # add_alias's lock on each of its aliases first, in one order (before the
        # account row, which add_alias's insert waits for): a target added meanwhile to
        # one of them is seen, and that alias is not taken for gone.
        await con.execute(
            """
            SELECT pg_advisory_xact_lock(hashtext(address))
            FROM (SELECT DISTINCT address FROM aliases WHERE account_id = $1 ORDER BY address) a
            """,
            account_id,
        )
        # The account row next: a delivery or login that comes after waits, then finds
        # no account.
        await con.execute("SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE", account_id)
        named = await con.fetchval(
            """
            SELECT array_agg(address) FROM (
                SELECT address FROM accounts WHERE id = $1
                UNION
                SELECT a.address FROM aliases a
                WHERE a.account_id = $1 AND NOT EXISTS (
                    SELECT 1 FROM aliases o WHERE o.address = a.address AND o.account_id <> $1
                )
            ) gone
            """,
            account_id,
        )
        await con.execute("DELETE FROM list_members WHERE member = ANY($1::text[])", named)
        await con.execute("DELETE FROM catchalls WHERE target = ANY($1::text[])", named)
        deleted = await con.fetch(
            "DELETE FROM mailbox_entries WHERE account_id = $1 RETURNING message_id", account_id
        )
        await delete_unreferenced(con, list({row["message_id"] for row in deleted}))
        await con.execute(
            """
            INSERT INTO retired_addresses (address)
            SELECT address FROM accounts WHERE id = $1
            ON CONFLICT (address) DO NOTHING
            """,
            account_id,
        )
        await con.execute("DELETE FROM accounts WHERE id = $1", account_id)


async def get_profile(pool: Pool, *, account_id: int) -> Record:
    return await pool.fetchrow(
        "SELECT name, signature, time_zone, conversations FROM accounts WHERE id = $1",
        account_id,
    )


async def update_profile(
    pool: Pool,
    *,
    account_id: int,
    name: str,
    signature: str,
    time_zone: str,
    conversations: bool,
) -> Record:
    return await pool.fetchrow(
        """
        UPDATE accounts SET name = $2, signature = $3, time_zone = $4, conversations = $5
        WHERE id = $1
        RETURNING name, signature, time_zone, conversations
        """,
        account_id,
        name,
        signature,
        time_zone,
        conversations,
    )


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
