"""IMAP subscriptions (RFC 9051 §6.3.7-8, RFC 5258 §3): names, not folders (migration 0012).

A subscription names a folder whether or not it exists: SUBSCRIBE may name one that
does not ("a server MAY validate"; we do not), and DELETE leaves the name subscribed,
since a server "MUST NOT unilaterally remove an existing mailbox name from the
subscription list even if a mailbox by that name no longer exists". A RENAME moves the
subscriptions at and below the folder's name with it (:func:`move_subscriptions`), as
the folders' own names move: the name the user subscribed to is the folder they
renamed, whichever client (IMAP or the web) renamed it.
"""

from __future__ import annotations

from mailstore.db.connection import Connection, Pool
from mailstore.errors import TooManySubscriptions

# Since SUBSCRIBE takes any name, a client could otherwise add rows without end. Far
# above any real folder tree; over it SUBSCRIBE is refused (IMAP NO [LIMIT]).
MAX_SUBSCRIPTIONS = 10_000


async def subscribe(pool: Pool, *, account_id: int, name: str) -> None:
    """Subscribe ``name`` (already normalised: INBOX upper case); a no-op if it is.
    TooManySubscriptions when the account has :data:`MAX_SUBSCRIPTIONS` other names."""
    done = await pool.fetchval(
        """
        WITH added AS (
            INSERT INTO subscriptions (account_id, name)
            SELECT $1, $2
            WHERE (SELECT count(*) FROM subscriptions WHERE account_id = $1) < $3
            ON CONFLICT DO NOTHING RETURNING 1
        )
        SELECT EXISTS (SELECT 1 FROM added)
            OR EXISTS (SELECT 1 FROM subscriptions WHERE account_id = $1 AND name = $2)
        """,
        account_id,
        name,
        MAX_SUBSCRIPTIONS,
    )
    if not done:
        raise TooManySubscriptions(name)


async def subscribe_all(con: Connection, *, account_id: int, names: list[str]) -> None:
    """In the caller's transaction: subscribe every name of ``names`` (a folder the web
    creates and its parents); those already subscribed stay so."""
    await con.execute(
        """
        INSERT INTO subscriptions (account_id, name)
        SELECT $1, n FROM unnest($2::text[]) AS n ON CONFLICT DO NOTHING
        """,
        account_id,
        names,
    )


async def unsubscribe(pool: Pool, *, account_id: int, name: str) -> None:
    """Unsubscribe ``name``; a no-op if it is not subscribed (as Dovecot answers OK)."""
    await pool.execute(
        "DELETE FROM subscriptions WHERE account_id = $1 AND name = $2", account_id, name
    )


async def list_subscriptions(pool: Pool, *, account_id: int) -> list[str]:
    """Every subscribed name of the account, INBOX first, then by name."""
    rows = await pool.fetch(
        """
        SELECT name FROM subscriptions WHERE account_id = $1
        ORDER BY name <> 'INBOX', name
        """,
        account_id,
    )
    return [row["name"] for row in rows]


async def move_subscriptions(con: Connection, account_id: int, name: str, new_name: str) -> None:
    """In a rename's transaction: ``name`` and the names below it become the same names
    under ``new_name``. A name already subscribed there stays subscribed once."""
    await con.execute(
        """
        INSERT INTO subscriptions (account_id, name)
        SELECT account_id, $3 || substr(name, length($2) + 1) FROM subscriptions
        WHERE account_id = $1 AND (name = $2 OR starts_with(name, $2 || '/'))
        ON CONFLICT DO NOTHING
        """,
        account_id,
        name,
        new_name,
    )
    await con.execute(
        """
        DELETE FROM subscriptions
        WHERE account_id = $1 AND (name = $2 OR starts_with(name, $2 || '/'))
        """,
        account_id,
        name,
    )
