"""Storing delivered messages: the message, its attachments, its mailbox entries.

The consumer stores a whole prefetch batch in one transaction: a handful of statements
for the batch instead of three round trips per message, which is what lets one consumer keep up
with the gateway (docs/performance.md). Every statement is idempotent on the gateway id,
so a redelivered batch, or a message another replica stored first, inserts nothing twice.

Recipients are expanded here (mailstore.recipients: subaddresses, aliases, lists, role
addresses, catch-alls), so each account reached gets one entry per message, whichever
of its addresses the envelope named and however many of them; a list leaves out the
authenticated submitter (never a MAIL FROM, which anyone could forge).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from mailstore.conversation_keys import keys_of_message
from mailstore.db.connection import Connection, Pool
from mailstore.db.conversations import label_batch
from mailstore.db.recipients import Lookup, lookup
from mailstore.imap_structure import describe
from mailstore.parsing import ParsedMessage
from mailstore.recipients import Directory, Expansion, copy_fields, expand

# A copy's IMAP structure is described in a worker thread beyond this size, as the
# consumer parses (consumer.PARSE_IN_THREAD_BYTES).
DESCRIBE_IN_THREAD_BYTES = 64 * 1024


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
        expansions: dict[str, Expansion] = {}
        owners: dict[str, int | None] = {}
        rows: list[NewMessage] = []
        found = Lookup(Directory(), {})
        if new:
            found = await lookup(con, addresses=_named(new.values()))
        for gateway_id, message in new.items():
            expansions[gateway_id] = expansion = expand(
                message.rcpt_to, found.directory, message.submitted_by
            )
            owner = _sole_owner(message, expansion, found)
            owners[gateway_id] = None if owner is None else owner[0]
            if owner is None:
                rows.append(message)
            else:
                rows.append(await _copy_for(message, *owner, gateway_id=gateway_id))
        # Another replica may have committed some of them since the SELECT: only the
        # messages this transaction inserted get entries.
        inserted = await insert_messages(con, rows) if rows else set()
        new = {gateway_id: m for gateway_id, m in new.items() if gateway_id in inserted}
        entries = await _insert_entries(con, list(new.values()), expansions, found, owners)
    outcomes = []
    for message in messages:
        if new.get(message.gateway_id) is not message:
            outcomes.append(StoreOutcome(stored=False, entries=[], without_account=[]))
            continue
        mine = entries.get(message.gateway_id, [])
        outcomes.append(StoreOutcome(True, mine, expansions[message.gateway_id].nobody))
    return outcomes


def _named(messages: Iterable[NewMessage]) -> list[str]:
    named = []
    for message in messages:
        named.extend(message.rcpt_to)
        if message.submitted_by is not None:
            named.append(message.submitted_by)
    return named


def _sole_owner(
    message: NewMessage, expansion: Expansion, found: Lookup
) -> tuple[int, str, str | None] | None:
    """The account whose copy the message's own row is, when nobody gets it as received.

    Mail only to an alias or a subaddress would otherwise keep the row as received with
    no entry showing it, for ever; it then is the first account's copy instead (its
    id stays the gateway id, the idempotency key). None when an account was named by
    its own address, the sender has a Sent entry, or a recipient reached nobody (that
    mail is kept as received).
    """
    if expansion.nobody or None in expansion.accounts.values():
        return None
    if found.directory.accounts.get(message.submitted_by or "") is not None:
        return None
    for account_id, recipient in expansion.accounts.items():
        if recipient is not None:
            return account_id, recipient, expansion.lists.get(account_id)
    return None


def copy_id(gateway_id: str, account_id: int) -> str:
    """The id of the copy of a message made for the accounts one recipient reached (it
    has a Delivered-To), named after the first of them."""
    return f"{gateway_id}.{account_id}"


async def _copy_for(
    message: NewMessage,
    account_id: int,
    recipient: str,
    list_address: str | None = None,
    *,
    gateway_id: str | None = None,
) -> NewMessage:
    """The message as one account receives it: RFC 9228's Delivered-To on top, and a
    list's List-Id and List-Post (RFC 2919, RFC 2369) when a list reached it.

    The stored message is shared by its recipients, so a field of one account's is a
    copy of its own, made only when the envelope did not name the account's address
    (a subaddress, an alias, a list, a role, a catch-all). Its IMAP structure is
    described again: every part's offset moved.
    """
    raw = copy_fields(recipient, list_address) + message.raw
    if len(raw) > DESCRIBE_IN_THREAD_BYTES:
        structure = await asyncio.to_thread(describe, raw)
    else:
        structure = describe(raw)
    parsed = dataclasses.replace(message.parsed, imap_structure=structure)
    gateway_id = gateway_id or copy_id(message.gateway_id, account_id)
    return dataclasses.replace(message, gateway_id=gateway_id, raw=raw, parsed=parsed)


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


async def _insert_entries(
    con: Connection,
    messages: list[NewMessage],
    expansions: dict[str, Expansion],
    found: Lookup,
    owners: dict[str, int | None],
) -> dict[str, list[NewEntry]]:
    """Every reached account's Inbox entry and the submitter's Sent entry, each with its UID.

    Two statements: the first locks the accounts' folders in order (two replicas'
    batches then wait for each other instead of deadlocking); the second takes each
    folder's UIDs and MODSEQ and inserts the entries. Between them, the copies with a
    Delivered-To of the accounts that are still there, and the entries' conversations
    (one statement, after the lock: it then sees what another replica committed for
    the same accounts).
    """
    ids: list[str] = []
    account_ids: list[int] = []
    roles: list[str] = []
    copies: dict[str, tuple[NewMessage, int, str, str | None]] = {}
    for message in messages:
        expansion = expansions[message.gateway_id]
        # The accounts one recipient reached through one list (or none) are shown the
        # same bytes: one copy serves them all, named after the first of them (a
        # 50-member list stores one copy, not 50). The message's own row is the sole
        # owner's copy already (_sole_owner), so it serves the owner's group.
        shared: dict[tuple[str, str | None], str] = {}
        owner = owners[message.gateway_id]
        if owner is not None:
            recipient = expansion.accounts[owner]
            assert recipient is not None  # _sole_owner picks an account with a recipient
            shared[(recipient, expansion.lists.get(owner))] = message.gateway_id
        for account_id, recipient in expansion.accounts.items():
            entry_message = message.gateway_id
            if recipient is not None:
                group = (recipient, expansion.lists.get(account_id))
                if group not in shared:
                    shared[group] = copy_id(message.gateway_id, account_id)
                    copies[shared[group]] = (message, account_id, recipient, group[1])
                entry_message = shared[group]
            ids.append(entry_message)
            account_ids.append(account_id)
            roles.append("received")
        sender = found.directory.accounts.get(message.submitted_by or "")
        if sender is not None:
            ids.append(message.gateway_id)
            account_ids.append(sender)
            roles.append("sent")
    if not ids:
        return {}
    made = [await _copy_for(*copy) for copy in copies.values()]
    # WITH ORDINALITY keeps the batch's order, so UIDs and entry ids rise in delivery
    # order; an account whose folders are gone (deleted meanwhile) drops out here.
    rows = await con.fetch(
        """
        SELECT w.message_id, w.role, w.n, w.account_id,
               CASE w.role WHEN 'sent' THEN 'sent' ELSE 'inbox' END AS folder_id
        FROM folders f
        JOIN unnest($1::text[], $2::bigint[], $3::text[])
            WITH ORDINALITY AS w (message_id, account_id, role, n)
          ON w.account_id = f.account_id
         AND f.id = CASE w.role WHEN 'sent' THEN 'sent' ELSE 'inbox' END
        ORDER BY f.account_id, f.id FOR NO KEY UPDATE OF f
        """,
        ids,
        account_ids,
        roles,
    )
    if not rows:
        return {}
    kept = {row["message_id"] for row in rows}
    if wanted_copies := [copy for copy in made if copy.gateway_id in kept]:
        await insert_messages(con, wanted_copies)
    rows = sorted(rows, key=lambda row: row["n"])
    keys = {message.gateway_id: keys_of_message(message.parsed) for message in messages}
    conversations = await label_batch(
        con, [(row["account_id"], keys[row["message_id"].partition(".")[0]]) for row in rows]
    )
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
        INSERT INTO mailbox_entries
            (account_id, message_id, role, folder_id, seen, uid, modseq, conversation,
             imap_search)
        SELECT e.account_id, e.message_id, e.role, e.folder_id, e.role = 'sent',
               a.first_uid + e.k, a.modseq, e.conversation, (
                   SELECT m.imap_search FROM messages m WHERE m.id = e.message_id)
        FROM unnest($4::bigint[], $5::text[], $6::text[], $7::text[], $8::bigint[], $9::text[])
            WITH ORDINALITY AS e (account_id, message_id, role, folder_id, k, conversation, n)
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
        conversations,
    )
    address_of = found.address_of
    entries: dict[str, list[NewEntry]] = {}
    for row in sorted(inserted, key=lambda row: row["id"]):
        entry = NewEntry(
            row["id"], address_of[row["account_id"]], row["folder_id"], row["uid"], row["modseq"]
        )
        # A copy's entry counts as its message's (the gateway id the events name).
        gateway_id = row["message_id"].partition(".")[0]
        entries.setdefault(gateway_id, []).append(entry)
    return entries
