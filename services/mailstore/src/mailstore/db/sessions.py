"""Web sessions and personal API tokens: only the SHA-256 of each secret is stored.

A lookup hashes the presented secret and finds the row by that hash; the secret itself never
reaches the database, so a copy of the tables lets nobody log in.
"""

from __future__ import annotations

from datetime import datetime

from mailstore.db.connection import Pool, Record


async def create_session(
    pool: Pool, *, account_id: int, secret_hash: bytes, days: int, device: str = ""
) -> datetime:
    expires_at: datetime = await pool.fetchval(
        """
        INSERT INTO sessions (secret_hash, account_id, expires_at, device)
        VALUES ($1, $2, now() + $3::integer * interval '1 day', $4)
        RETURNING expires_at
        """,
        secret_hash,
        account_id,
        days,
        device,
    )
    return expires_at


async def use_session(pool: Pool, *, secret_hash: bytes, days: int) -> Record | None:
    """The session's account, pushing its expiry ``days`` past now (sliding expiry)."""
    return await pool.fetchrow(
        """
        UPDATE sessions s
        SET last_used_at = now(), expires_at = now() + $2::integer * interval '1 day'
        FROM accounts a
        WHERE s.secret_hash = $1 AND s.expires_at > now() AND a.id = s.account_id
        AND a.disabled_at IS NULL
        RETURNING a.address, a.name, a.time_zone, a.conversations, a.is_admin, s.expires_at,
                  s.id
        """,
        secret_hash,
        days,
    )


async def end_session(pool: Pool, *, secret_hash: bytes) -> None:
    await pool.execute("DELETE FROM sessions WHERE secret_hash = $1", secret_hash)


async def end_sessions_of(pool: Pool, *, account_id: int) -> int:
    status: str = await pool.execute("DELETE FROM sessions WHERE account_id = $1", account_id)
    return int(status.rpartition(" ")[2])


async def list_sessions(pool: Pool, *, account_id: int) -> list[Record]:
    """The account's live sessions, most recently used first (never their secrets)."""
    return list(
        await pool.fetch(
            """
        SELECT id, device, created_at, last_used_at FROM sessions
        WHERE account_id = $1 AND expires_at > now() ORDER BY last_used_at DESC, id DESC
        """,
            account_id,
        )
    )


async def end_session_by_id(pool: Pool, *, account_id: int, session_id: int) -> bool:
    """End one session of the account; False when it is not one of the account's."""
    status: str = await pool.execute(
        "DELETE FROM sessions WHERE id = $1 AND account_id = $2", session_id, account_id
    )
    return status != "DELETE 0"


async def end_other_sessions(pool: Pool, *, account_id: int, keep: int) -> int:
    """End every session of the account but ``keep`` (an id): "log out everywhere else"."""
    status: str = await pool.execute(
        "DELETE FROM sessions WHERE account_id = $1 AND id <> $2", account_id, keep
    )
    return int(status.rpartition(" ")[2])


async def prune_sessions(pool: Pool) -> int:
    status: str = await pool.execute("DELETE FROM sessions WHERE expires_at <= now()")
    return int(status.rpartition(" ")[2])


# -- API tokens ------------------------------------------------------------------------------


async def create_token(pool: Pool, *, account_id: int, name: str, token_hash: bytes) -> Record:
    return await pool.fetchrow(
        """
        INSERT INTO api_tokens (account_id, name, token_hash) VALUES ($1, $2, $3)
        RETURNING id, name, created_at
        """,
        account_id,
        name,
        token_hash,
    )


async def list_tokens(pool: Pool, *, account_id: int) -> list[Record]:
    return list(
        await pool.fetch(
            """
        SELECT id, name, created_at, last_used_at FROM api_tokens
        WHERE account_id = $1 ORDER BY id
        """,
            account_id,
        )
    )


async def revoke_token(pool: Pool, *, account_id: int, token_id: int) -> bool:
    status: str = await pool.execute(
        "DELETE FROM api_tokens WHERE id = $1 AND account_id = $2", token_id, account_id
    )
    return status != "DELETE 0"


async def use_token(pool: Pool, *, token_hash: bytes) -> Record | None:
    """The token's account, recording that the token was used."""
    return await pool.fetchrow(
        """
        UPDATE api_tokens t SET last_used_at = now()
        FROM accounts a
        WHERE t.token_hash = $1 AND a.id = t.account_id AND a.disabled_at IS NULL
        RETURNING a.address, a.name, a.is_admin
        """,
        token_hash,
    )
