"""Storing delivered messages: the message, its attachments, its mailbox entries.

The consumer stores a whole prefetch batch in one transaction: four statements for the
batch instead of three round trips per message, which is what lets one consumer keep up
with the gateway (docs/performance.md). Every statement is idempotent on the gateway id,
so a redelivered batch, or a message another replica stored first, inserts nothing twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mailstore.db.connection import Connection, Pool
from mailstore.parsing import ParsedMessage


@dataclass(frozen=True, slots=True)
class NewMessage:
    """One delivery: the AMQP envelope and the parsed body."""

    gateway_id: str
    mail_from: str
    rcpt_to: list[str]
    submitted_by: str | None
    raw: bytes
    parsed: ParsedMessage


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
    """Insert one message, its attachments and its mailbox entries in one transaction."""
    message = NewMessage(gateway_id, mail_from, rcpt_to, submitted_by, raw, parsed)
    (outcome,) = await store_messages(pool, [message])
    return outcome


async def store_messages(pool: Pool, messages: Sequence[NewMessage]) -> list[StoreOutcome]:
    """Insert a batch in one transaction; one outcome per message, in order.

    A gateway id that is already stored, or repeated inside the batch (a redelivery that
    arrived beside its first copy), is ``stored=False`` and inserts nothing.
    """
    async with pool.acquire() as con, con.transaction():
        existing = {
            row["id"]
            for row in await con.fetch(
                "SELECT id FROM messages WHERE id = any($1::text[])",
                [m.gateway_id for m in messages],
            )
        }
        new: dict[str, NewMessage] = {}
        for message in messages:
            if message.gateway_id not in existing:
                new.setdefault(message.gateway_id, message)
        if new:
            await _insert_messages(con, list(new.values()))
            entries = await _insert_entries(con, list(new.values()))
        else:
            entries = {}
    outcomes = []
    for message in messages:
        if new.get(message.gateway_id) is not message:
            outcomes.append(StoreOutcome(stored=False, entries=[], without_account=[]))
            continue
        mine = entries.get(message.gateway_id, [])
        found = {entry.address for entry in mine if entry.folder == "inbox"}
        missing = [a for a in message.rcpt_to if a not in found]
        outcomes.append(StoreOutcome(True, mine, missing))
    return outcomes


async def _insert_messages(con: Connection, messages: list[NewMessage]) -> None:
    # ON CONFLICT still matters: another replica may commit the same id between our
    # SELECT and this INSERT.
    await con.executemany(
        """
        INSERT INTO messages (
            id, mail_from, rcpt_to, submitted_by, raw, size, subject, from_name, from_address,
            to_addrs, cc_addrs, date, message_id_header, in_reply_to, references_header,
            text_body, html_body, preview, has_attachments, parse_defects, parse_error,
            sender_check, sender_claimed, search
        ) VALUES (
            $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
            $19, $20, $21, $22, $23, to_tsvector('simple', $24)
        )
        ON CONFLICT (id) DO NOTHING
        """,
        [_message_row(m) for m in messages],
    )
    attachments = [
        (
            m.gateway_id,
            a.index,
            a.filename,
            a.content_type,
            len(a.content),
            a.content_id,
            a.disposition,
            a.content,
        )
        for m in messages
        for a in m.parsed.attachments
    ]
    if attachments:
        await con.executemany(
            """
            INSERT INTO attachments
                (message_id, n, filename, content_type, size, content_id, disposition, content)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
            ON CONFLICT (message_id, n) DO NOTHING
            """,
            attachments,
        )


def _message_row(message: NewMessage) -> tuple[object, ...]:
    parsed = message.parsed
    sender = parsed.from_
    return (
        message.gateway_id,
        message.mail_from,
        message.rcpt_to,
        message.submitted_by,
        message.raw,
        len(message.raw),
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
        parsed.sender_check,
        parsed.sender_claimed,
        parsed.search_text,
    )


async def _insert_entries(con: Connection, messages: list[NewMessage]) -> dict[str, list[NewEntry]]:
    """Every recipient's Inbox entry and the submitter's Sent entry, in one statement."""
    ids: list[str] = []
    addresses: list[str] = []
    roles: list[str] = []
    for message in messages:
        for address in message.rcpt_to:
            ids.append(message.gateway_id)
            addresses.append(address)
            roles.append("received")
        if message.submitted_by is not None:
            ids.append(message.gateway_id)
            addresses.append(message.submitted_by)
            roles.append("sent")
    # WITH ORDINALITY keeps the batch's order, so entry ids rise in delivery order.
    rows = await con.fetch(
        """
        WITH wanted AS (
            SELECT w.message_id, w.role, w.n, a.id AS account_id, a.address
            FROM unnest($1::text[], $2::text[], $3::text[])
                WITH ORDINALITY AS w (message_id, address, role, n)
            JOIN accounts a ON a.address = w.address
        ), inserted AS (
            INSERT INTO mailbox_entries (account_id, message_id, role, folder, read)
            SELECT account_id, message_id, role,
                   CASE role WHEN 'sent' THEN 'sent' ELSE 'inbox' END, role = 'sent'
            FROM wanted ORDER BY n
            ON CONFLICT (account_id, message_id, role) DO NOTHING
            RETURNING id, account_id, message_id, folder
        )
        SELECT inserted.id, inserted.message_id, inserted.folder, wanted.address
        FROM inserted JOIN wanted
            ON wanted.account_id = inserted.account_id
            AND wanted.message_id = inserted.message_id
            AND wanted.role = CASE inserted.folder WHEN 'sent' THEN 'sent' ELSE 'received' END
        ORDER BY inserted.id
        """,
        ids,
        addresses,
        roles,
    )
    entries: dict[str, list[NewEntry]] = {}
    for row in rows:
        entry = NewEntry(row["id"], row["address"], row["folder"])
        entries.setdefault(row["message_id"], []).append(entry)
    return entries
