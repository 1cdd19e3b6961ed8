"""Every SQL statement of the mail store.

Functions take the pool (or a connection) first and keyword-only arguments after; values
always travel as ``$n`` parameters. Rows come back as asyncpg records whose columns are the
names used here; jsonb columns are decoded to Python objects by :func:`init_connection`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from mailstore.errors import AddressTaken
from mailstore.parsing import ParsedMessage
from mailstore.search import SearchFilter

log = logging.getLogger(__name__)

Pool = Any  # asyncpg.Pool; asyncpg ships no type information
Connection = Any  # asyncpg.Connection
Record = Any  # asyncpg.Record

# pg_advisory_xact_lock key of the migration runner: an arbitrary constant ("lpst" in ASCII)
# that every replica agrees on.
MIGRATION_LOCK_KEY = 0x6C707374
FOLDERS = ("inbox", "sent", "trash")


async def init_connection(con: Connection) -> None:
    """Per-connection set-up: jsonb in and out as Python objects."""
    await con.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


# -- database and migrations -----------------------------------------------------------------


def quote_ident(name: str) -> str:
    # CREATE DATABASE takes no parameters, so the name must be quoted into the statement;
    # doubling embedded quotes is PostgreSQL's own quote_ident rule.
    return '"' + name.replace('"', '""') + '"'


async def create_database(con: Connection, *, name: str) -> None:
    await con.execute("CREATE DATABASE " + quote_ident(name))


async def drop_database(con: Connection, *, name: str) -> None:
    await con.execute("DROP DATABASE IF EXISTS " + quote_ident(name) + " WITH (FORCE)")


async def lock_migrations(con: Connection) -> None:
    # Transaction-scoped: released by COMMIT or ROLLBACK, so a crashed runner cannot leak it.
    await con.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK_KEY)


async def applied_migration_versions(con: Connection) -> set[int]:
    # Safe to run concurrently only under lock_migrations: two CREATE TABLE IF NOT EXISTS
    # racing each other can still fail on pg_type's unique index.
    await con.execute(
        """
        CREATE TABLE IF NOT EXISTS schema_migrations (
            version integer PRIMARY KEY,
            name text NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    return {row["version"] for row in await con.fetch("SELECT version FROM schema_migrations")}


async def record_migration(con: Connection, *, version: int, name: str) -> None:
    await con.execute(
        "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", version, name
    )


async def ping(pool: Pool) -> None:
    await pool.fetchval("SELECT 1")


# -- accounts --------------------------------------------------------------------------------


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


# -- storing a delivered message -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewEntry:
    id: int
    address: str
    folder: str


@dataclass(frozen=True, slots=True)
class StoreOutcome:
    # False when the gateway id was already stored: a redelivery, which changes nothing.
    stored: bool
    entries: list[NewEntry]
    # Recipients the message was stored for but who have no account.
    without_account: list[str]


async def store_message(
    pool: Pool,
    *,
    gateway_id: str,
    mail_from: str,
    rcpt_to: list[str],
    submitted_by: str | None,
    raw: bytes,
    parsed: ParsedMessage,
) -> StoreOutcome:
    """Insert the message, its attachments and its mailbox entries in one transaction."""
    async with pool.acquire() as con, con.transaction():
        inserted = await _insert_message(
            con,
            gateway_id=gateway_id,
            mail_from=mail_from,
            rcpt_to=rcpt_to,
            submitted_by=submitted_by,
            raw=raw,
            parsed=parsed,
        )
        if not inserted:
            return StoreOutcome(stored=False, entries=[], without_account=[])
        await con.executemany(
            """
            INSERT INTO attachments
                (message_id, n, filename, content_type, size, content_id, disposition, content)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
            """,
            [
                (
                    gateway_id,
                    a.index,
                    a.filename,
                    a.content_type,
                    len(a.content),
                    a.content_id,
                    a.disposition,
                    a.content,
                )
                for a in parsed.attachments
            ],
        )
        entries = await _insert_entries(
            con, gateway_id=gateway_id, addresses=rcpt_to, role="received", folder="inbox"
        )
        if submitted_by is not None:
            entries += await _insert_entries(
                con, gateway_id=gateway_id, addresses=[submitted_by], role="sent", folder="sent"
            )
    found = {entry.address for entry in entries if entry.folder == "inbox"}
    return StoreOutcome(True, entries, [a for a in rcpt_to if a not in found])


async def _insert_message(
    con: Connection,
    *,
    gateway_id: str,
    mail_from: str,
    rcpt_to: list[str],
    submitted_by: str | None,
    raw: bytes,
    parsed: ParsedMessage,
) -> bool:
    sender = parsed.from_
    row = await con.fetchrow(
        """
        INSERT INTO messages (
            id, mail_from, rcpt_to, submitted_by, raw, size, subject, from_name, from_address,
            to_addrs, cc_addrs, date, message_id_header, in_reply_to, references_header,
            text_body, html_body, preview, has_attachments, parse_defects, parse_error, search
        ) VALUES (
            $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
            $19, $20, $21, to_tsvector('simple', $22)
        )
        ON CONFLICT (id) DO NOTHING
        RETURNING id
        """,
        gateway_id,
        mail_from,
        rcpt_to,
        submitted_by,
        raw,
        len(raw),
        parsed.subject,
        sender.name if sender else "",
        sender.address if sender else "",
        [address.as_json() for address in parsed.to],
        [address.as_json() for address in parsed.cc],
        parsed.date,
        parsed.message_id,
        parsed.in_reply_to,
        parsed.references,
        parsed.text,
        parsed.html,
        parsed.preview,
        parsed.has_attachments,
        parsed.defects,
        parsed.error,
        parsed.search_text,
    )
    return row is not None


async def _insert_entries(
    con: Connection, *, gateway_id: str, addresses: list[str], role: str, folder: str
) -> list[NewEntry]:
    rows = await con.fetch(
        """
        WITH inserted AS (
            INSERT INTO mailbox_entries (account_id, message_id, role, folder, read)
            SELECT id, $1, $3, $4, $3 = 'sent' FROM accounts WHERE address = any($2::text[])
            ON CONFLICT (account_id, message_id, role) DO NOTHING
            RETURNING id, account_id
        )
        SELECT inserted.id, accounts.address
        FROM inserted JOIN accounts ON accounts.id = inserted.account_id
        """,
        gateway_id,
        addresses,
        role,
        folder,
    )
    return [NewEntry(row["id"], row["address"], folder) for row in rows]


# -- reading mailboxes -----------------------------------------------------------------------


async def list_folder(
    pool: Pool, *, account_id: int, folder: str, after: tuple[datetime, int] | None, limit: int
) -> list[Record]:
    """One page of a folder, newest first, starting after the keyset position ``after``."""
    if after is None:
        return list(
            await pool.fetch(
                """
            SELECT * FROM message_summaries WHERE account_id = $1 AND folder = $2
            ORDER BY created_at DESC, id DESC LIMIT $3
            """,
                account_id,
                folder,
                limit,
            )
        )
    return list(
        await pool.fetch(
            """
        SELECT * FROM message_summaries
        WHERE account_id = $1 AND folder = $2 AND (created_at, id) < ($3, $4)
        ORDER BY created_at DESC, id DESC LIMIT $5
        """,
            account_id,
            folder,
            after[0],
            after[1],
            limit,
        )
    )


async def search(
    pool: Pool,
    *,
    account_id: int,
    query: SearchFilter,
    after: tuple[datetime, int] | None,
    limit: int,
) -> list[Record]:
    """Search one account's mail; one fixed statement, each unused filter passed as NULL."""
    return list(
        await pool.fetch(
            """
        SELECT s.* FROM message_summaries s JOIN messages m ON m.id = s.gateway_id
        WHERE s.account_id = $1
          AND s.folder = any($2::text[])
          AND ($3::text IS NULL OR m.search @@ websearch_to_tsquery('simple', $3))
          AND NOT EXISTS (
              SELECT 1 FROM unnest($4::text[]) AS t(term)
              WHERE strpos(lower(m.from_name || ' ' || m.from_address), t.term) = 0)
          AND NOT EXISTS (
              SELECT 1 FROM unnest($5::text[]) AS t(term)
              WHERE NOT EXISTS (
                  SELECT 1 FROM jsonb_array_elements(m.to_addrs || m.cc_addrs) AS a(person)
                  WHERE strpos(lower(concat(a.person->>'name', ' ', a.person->>'address')),
                               t.term) > 0))
          AND NOT EXISTS (
              SELECT 1 FROM unnest($6::text[]) AS t(term)
              WHERE strpos(lower(m.subject), t.term) = 0)
          AND ($7::boolean IS NULL OR m.has_attachments = $7)
          AND ($8::boolean IS NULL OR s.read = $8)
          AND ($9::timestamptz IS NULL OR s.created_at < $9)
          AND ($10::timestamptz IS NULL OR s.created_at >= $10)
          AND ($11::timestamptz IS NULL OR (s.created_at, s.id) < ($11, $12))
        ORDER BY s.created_at DESC, s.id DESC LIMIT $13
        """,
            account_id,
            list(query.folders),
            query.text,
            list(query.from_terms),
            list(query.to_terms),
            list(query.subject_terms),
            query.has_attachment,
            query.read,
            query.before,
            query.after,
            after[0] if after else None,
            after[1] if after else None,
            limit,
        )
    )


async def get_summary(pool: Pool, *, account_id: int, entry_id: int) -> Record | None:
    return await pool.fetchrow(
        "SELECT * FROM message_summaries WHERE id = $1 AND account_id = $2", entry_id, account_id
    )


async def get_message(pool: Pool, *, account_id: int, entry_id: int) -> Record | None:
    return await pool.fetchrow(
        """
        SELECT s.*, m.message_id_header, m.in_reply_to, m.references_header, m.text_body,
               m.html_body, m.parse_error, m.parse_defects
        FROM message_summaries s JOIN messages m ON m.id = s.gateway_id
        WHERE s.id = $1 AND s.account_id = $2
        """,
        entry_id,
        account_id,
    )


async def list_attachments(pool: Pool, *, gateway_id: str) -> list[Record]:
    return list(
        await pool.fetch(
            """
        SELECT n, filename, content_type, size, content_id, disposition
        FROM attachments WHERE message_id = $1 ORDER BY n
        """,
            gateway_id,
        )
    )


async def get_raw(pool: Pool, *, account_id: int, entry_id: int) -> bytes | None:
    raw: bytes | None = await pool.fetchval(
        """
        SELECT m.raw FROM mailbox_entries e JOIN messages m ON m.id = e.message_id
        WHERE e.id = $1 AND e.account_id = $2
        """,
        entry_id,
        account_id,
    )
    return raw


async def get_attachment(pool: Pool, *, account_id: int, entry_id: int, n: int) -> Record | None:
    return await pool.fetchrow(
        """
        SELECT a.filename, a.content_type, a.content
        FROM mailbox_entries e JOIN attachments a ON a.message_id = e.message_id
        WHERE e.id = $1 AND e.account_id = $2 AND a.n = $3
        """,
        entry_id,
        account_id,
        n,
    )


async def folder_counts(pool: Pool, *, account_id: int) -> list[Record]:
    return list(
        await pool.fetch(
            """
        SELECT f.folder, count(e.id) AS total, count(e.id) FILTER (WHERE NOT e.read) AS unread
        FROM unnest($2::text[]) WITH ORDINALITY AS f(folder, position)
        LEFT JOIN mailbox_entries e ON e.folder = f.folder AND e.account_id = $1
        GROUP BY f.folder, f.position ORDER BY f.position
        """,
            account_id,
            list(FOLDERS),
        )
    )


# -- changing mailboxes ----------------------------------------------------------------------


async def set_read(pool: Pool, *, account_id: int, entry_id: int, read: bool) -> bool:
    status: str = await pool.execute(
        "UPDATE mailbox_entries SET read = $3 WHERE id = $1 AND account_id = $2",
        entry_id,
        account_id,
        read,
    )
    return status != "UPDATE 0"


async def move_to_trash(pool: Pool, *, account_id: int, entry_id: int) -> bool:
    # Trashing twice keeps the first folder_before_trash: restore must not lead into Trash.
    status: str = await pool.execute(
        """
        UPDATE mailbox_entries
        SET folder_before_trash = coalesce(folder_before_trash, folder),
            trashed_at = coalesce(trashed_at, now()),
            folder = 'trash'
        WHERE id = $1 AND account_id = $2
        """,
        entry_id,
        account_id,
    )
    return status != "UPDATE 0"


async def restore(pool: Pool, *, account_id: int, entry_id: int) -> bool:
    status: str = await pool.execute(
        """
        UPDATE mailbox_entries
        SET folder = coalesce(folder_before_trash, folder), folder_before_trash = NULL,
            trashed_at = NULL
        WHERE id = $1 AND account_id = $2
        """,
        entry_id,
        account_id,
    )
    return status != "UPDATE 0"


async def delete_forever(pool: Pool, *, account_id: int, entry_id: int) -> bool:
    """Delete one entry, and the message with it once no other entry refers to it."""
    async with pool.acquire() as con, con.transaction():
        gateway_id = await con.fetchval(
            "DELETE FROM mailbox_entries WHERE id = $1 AND account_id = $2 RETURNING message_id",
            entry_id,
            account_id,
        )
        if gateway_id is None:
            return False
        # Two accounts deleting their entries of one message at once would each still see
        # the other's entry and both keep the message; the row lock serialises them.
        await con.execute("SELECT 1 FROM messages WHERE id = $1 FOR UPDATE", gateway_id)
        await con.execute(
            """
            DELETE FROM messages
            WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM mailbox_entries WHERE message_id = $1)
            """,
            gateway_id,
        )
    return True
