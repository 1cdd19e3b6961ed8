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
    uid: int
    modseq: int


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
        # Another replica may have committed some of them since the SELECT: only the
        # messages this transaction inserted get entries.
        inserted = await insert_messages(con, list(new.values())) if new else set()
        new = {gateway_id: m for gateway_id, m in new.items() if gateway_id in inserted}
        entries = await _insert_entries(con, list(new.values())) if new else {}
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


async def insert_messages(con: Connection, messages: list[NewMessage]) -> set[str]:
    """Insert the messages and their attachments; the gateway ids this call inserted.

    ON CONFLICT still matters: another replica may commit the same id between our
    SELECT and this INSERT, which then waits for that commit and inserts nothing.
    """
    rows = await con.fetchmany(
        """
        INSERT INTO messages (
            id, mail_from, rcpt_to, submitted_by, raw, size, subject, from_name, from_address,
            to_addrs, cc_addrs, date, message_id_header, in_reply_to, references_header,
            text_body, html_body, preview, has_attachments, parse_defects, parse_error,
            sender_check, sender_claimed, search, imap_structure, imap_search
        ) VALUES (
            $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
            $19, $20, $21, $22, $23, to_tsvector('simple', $24), $25, $26
        )
        ON CONFLICT (id) DO NOTHING
        RETURNING id
        """,
        [_message_row(m) for m in messages],
    )
    inserted = {row["id"] for row in rows}
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
        if m.gateway_id in inserted
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
    return inserted


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
        parsed.imap_structure,
        parsed.imap_search,
    )


async def _insert_entries(con: Connection, messages: list[NewMessage]) -> dict[str, list[NewEntry]]:
    """Every recipient's Inbox entry and the submitter's Sent entry, each with its UID.

    Two statements: the first finds the accounts and locks their folders in order (two
    replicas' batches then wait for each other instead of deadlocking); the second takes
    each folder's UIDs and MODSEQ and inserts the entries.
    """
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
    # WITH ORDINALITY keeps the batch's order, so UIDs and entry ids rise in delivery
    # order. A recipient named twice in one envelope gets one entry (DISTINCT ON).
    wanted = await con.fetch(
        """
        WITH wanted AS (
            SELECT DISTINCT ON (w.message_id, a.id, w.role)
                   w.message_id, w.role, w.n, a.id AS account_id, a.address,
                   CASE w.role WHEN 'sent' THEN 'sent' ELSE 'inbox' END AS folder_id
            FROM unnest($1::text[], $2::text[], $3::text[])
                WITH ORDINALITY AS w (message_id, address, role, n)
            JOIN accounts a ON a.address = w.address
            ORDER BY w.message_id, a.id, w.role, w.n
        )
        SELECT wanted.* FROM folders f
        JOIN wanted ON wanted.account_id = f.account_id AND wanted.folder_id = f.id
        ORDER BY f.account_id, f.id FOR NO KEY UPDATE OF f
        """,
        ids,
        addresses,
        roles,
    )
    if not wanted:
        return {}
    rows = sorted(wanted, key=lambda row: row["n"])
    counts: dict[tuple[int, str], int] = {}
    offsets = []
    for row in rows:
        key = (row["account_id"], row["folder_id"])
        offsets.append(counts.get(key, 0))
        counts[key] = offsets[-1] + 1
    inserted = await con.fetch(
        """
        WITH allocated AS (
            UPDATE folders f SET uidnext = f.uidnext + c.n, highestmodseq = f.highestmodseq + 1
            FROM unnest($1::bigint[], $2::text[], $3::bigint[]) AS c (account_id, folder_id, n)
            WHERE f.account_id = c.account_id AND f.id = c.folder_id
            RETURNING f.account_id, f.id, f.uidnext - c.n AS first_uid, f.highestmodseq AS modseq
        )
        INSERT INTO mailbox_entries (account_id, message_id, role, folder_id, seen, uid, modseq)
        SELECT e.account_id, e.message_id, e.role, e.folder_id, e.role = 'sent',
               a.first_uid + e.k, a.modseq
        FROM unnest($4::bigint[], $5::text[], $6::text[], $7::text[], $8::bigint[])
            WITH ORDINALITY AS e (account_id, message_id, role, folder_id, k, n)
        JOIN allocated a ON a.account_id = e.account_id AND a.id = e.folder_id
        ORDER BY e.n
        RETURNING id, account_id, message_id, folder_id, uid, modseq
        """,
        [account for account, _ in counts],
        [folder for _, folder in counts],
        list(counts.values()),
        [row["account_id"] for row in rows],
        [row["message_id"] for row in rows],
        [row["role"] for row in rows],
        [row["folder_id"] for row in rows],
        offsets,
    )
    address_of = {row["account_id"]: row["address"] for row in rows}
    entries: dict[str, list[NewEntry]] = {}
    for row in sorted(inserted, key=lambda row: row["id"]):
        entry = NewEntry(
            row["id"], address_of[row["account_id"]], row["folder_id"], row["uid"], row["modseq"]
        )
        entries.setdefault(row["message_id"], []).append(entry)
    return entries
