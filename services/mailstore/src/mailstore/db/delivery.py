"""Storing a delivered message: the message, its attachments, its mailbox entries."""

from __future__ import annotations

from dataclasses import dataclass

from mailstore.db.connection import Connection, Pool
from mailstore.parsing import ParsedMessage


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
