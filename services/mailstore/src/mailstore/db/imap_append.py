"""IMAP APPEND: messages from a mail program stored into a folder, all or none.

An appended message is stored like delivered mail (db.delivery: parsed fields, search
vector, imap_structure) under a gateway id of its own, with one entry in the target
folder carrying the client's flags and internal date. Several messages (MULTIAPPEND,
RFC 3502) share one transaction.

The Sent copy (issue 13): a mail program that submitted a message through the gateway
and then APPENDs its copy to Sent would leave two copies there, the gateway's and its
own. An APPEND to a \\Sent folder of a message whose Message-ID and From address equal
those of an entry put into that folder in the last SENT_COPY_WINDOW is that entry: it
answers with the existing UID and stores nothing.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from mailstore.conversation_keys import keys_of_message
from mailstore.db.connection import Connection, Pool, Record
from mailstore.db.conversations import label_batch
from mailstore.db.delivery import NewMessage, insert_messages
from mailstore.db.folders import EXISTS, Change, allocate
from mailstore.db.imap_folders import find_folder
from mailstore.db.imap_messages import FLAG_COLUMNS
from mailstore.db.quotas import require_room
from mailstore.parsing import ParsedMessage

# How long after submission an APPEND to Sent counts as the mail program's copy.
SENT_COPY_WINDOW_MINUTES = 10


@dataclass(frozen=True, slots=True)
class Appended:
    raw: bytes
    parsed: ParsedMessage
    flags: frozenset[str]
    keywords: frozenset[str]
    internal_date: datetime | None


@dataclass(frozen=True, slots=True)
class AppendOutcome:
    uidvalidity: int
    uids: list[int]
    changes: list[Change]


async def append(
    pool: Pool,
    *,
    account_id: int,
    address: str,
    name: str,
    messages: list[Appended],
    default_quota: int = 0,
) -> AppendOutcome:
    """Store ``messages`` in the folder ``name``; OverQuota, storing none, when they would
    take the account past its quota (RFC 9208 §4.3)."""
    async with pool.acquire() as con, con.transaction():
        folder = await find_folder(con, account_id, name, lock=True)
        known: dict[int, int] = {}
        if folder["special_use"] == "\\Sent":
            for n, message in enumerate(messages):
                uid = await _sent_copy(con, account_id, folder["id"], message.parsed)
                if uid is not None:
                    known[n] = uid
        new = [(n, m) for n, m in enumerate(messages) if n not in known]
        changes: list[Change] = []
        if new:
            stored = await insert_entries(
                con, account_id=account_id, folder=folder, messages=[m for _, m in new]
            )
            for (n, _), change in zip(new, stored, strict=True):
                assert change.uid is not None  # a new entry always has its UID
                known[n] = change.uid
                changes.append(change)
            await require_room(con, account_id=account_id, default_quota=default_quota)
    return AppendOutcome(folder["uidvalidity"], [known[n] for n in range(len(messages))], changes)


async def _sent_copy(
    con: Connection, account_id: int, folder_id: str, parsed: ParsedMessage
) -> int | None:
    if not parsed.message_id or parsed.from_ is None:
        return None
    uid: int | None = await con.fetchval(
        """
        SELECT e.uid FROM mailbox_entries e JOIN messages m ON m.id = e.message_id
        WHERE e.account_id = $1 AND e.folder_id = $2
          AND e.created_at > now() - $5::integer * interval '1 minute'
          AND m.message_id_header = $3 AND lower(m.from_address) = lower($4)
        ORDER BY e.uid DESC LIMIT 1
        """,
        account_id,
        folder_id,
        parsed.message_id,
        parsed.from_.address,
        SENT_COPY_WINDOW_MINUTES,
    )
    return uid


async def insert_entries(
    con: Connection, *, account_id: int, folder: Record, messages: list[Appended]
) -> list[Change]:
    """Store ``messages`` as new entries of ``folder`` (a locked row: id, special_use),
    inside the caller's transaction: each one's EXISTS change (entry id, UID), in order."""
    stored = [
        NewMessage(
            gateway_id="A" + secrets.token_hex(16).upper(),
            mail_from=(m.parsed.from_.address if m.parsed.from_ else ""),
            rcpt_to=[],
            submitted_by=None,
            raw=m.raw,
            parsed=m.parsed,
        )
        for m in messages
    ]
    await insert_messages(con, stored)
    allocated = await allocate(
        con, account_id=account_id, folder_id=folder["id"], uids=len(messages)
    )
    first, modseq = allocated["first_uid"], allocated["modseq"]
    role = "sent" if folder["special_use"] == "\\Sent" else "received"
    # As a delivered batch is labelled (db.delivery), the folder locked.
    conversations = await label_batch(
        con, [(account_id, keys_of_message(m.parsed)) for m in messages]
    )
    rows = await con.fetch(
        """
        INSERT INTO mailbox_entries (account_id, message_id, role, folder_id, seen,
            answered, flagged, deleted, draft, keywords, created_at, uid, modseq,
            restore_folder_id, trashed_at, conversation, imap_search)
        SELECT $1, u.message_id, $3, $2, u.seen, u.answered, u.flagged, u.deleted,
               u.draft, string_to_array(u.keywords, ' '), coalesce(u.at, now()),
               u.uid, $4, CASE WHEN $2 = 'trash' THEN 'inbox' END,
               CASE WHEN $2 = 'trash' THEN now() END, u.conversation,
               (SELECT m.imap_search FROM messages m WHERE m.id = u.message_id)
        FROM unnest($5::text[], $6::bool[], $7::bool[], $8::bool[], $9::bool[],
                    $10::bool[], $11::text[], $12::timestamptz[], $13::bigint[], $14::text[])
            AS u (message_id, seen, answered, flagged, deleted, draft, keywords, at, uid,
                  conversation)
        ORDER BY u.uid
        RETURNING id, uid
        """,
        account_id,
        folder["id"],
        role,
        modseq,
        [m.gateway_id for m in stored],
        *([flag in m.flags for m in messages] for flag in FLAG_COLUMNS),
        [" ".join(sorted(m.keywords)) for m in messages],
        [m.internal_date for m in messages],
        list(range(first, first + len(messages))),
        conversations,
    )
    return [Change(account_id, row["id"], folder["id"], row["uid"], modseq, EXISTS) for row in rows]
