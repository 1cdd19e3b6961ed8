"""The messages of the IMAP benchmark, and how they get into each server.

Both servers hold the same bytes. Localpost's are stored through the mail store's own
delivery code (``mailstore.parsing.parse_message`` and ``mailstore.db.store_messages``,
what its consumer runs for each batch), straight on the stack's database: the SMTP
gateway and the broker are skipped only to save the minutes 100,000 messages would
take through them, and the mail store's statements, UIDs and MODSEQs are the real
ones. Dovecot's are Maildir files (``dovecot_server.PrivateDovecot.maildir``).

The mix: mostly plain-text messages of 1-12 KB, one in ten multipart with a
base64 attachment of 10-80 KB, one in twenty with an HTML alternative; subjects and
senders drawn from small pools so that SEARCH finds something.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import os
import random
import uuid
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor

import asyncpg

from mailstore import db as mailstore_db
from mailstore.db.connection import init_connection
from mailstore.parsing import ParsedMessage, parse_message

WORDS = [
    "invoice",
    "meeting",
    "report",
    "budget",
    "travel",
    "lunch",
    "project",
    "review",
    "draft",
    "release",
    "weekly",
    "update",
    "agenda",
    "minutes",
    "contract",
    "offer",
    "summer",
    "winter",
    "garden",
    "kitchen",
    "holiday",
    "photos",
]
SENDERS = [f"{name}@example.org" for name in ("alice", "bob", "carol", "dave", "erin", "frank")]
LINE = "The quick brown fox jumps over the lazy dog, and the dog does not mind at all.\r\n"
BATCH = 500  # messages per transaction, as the consumer's prefetch batches


def mixed_message(n: int, recipient: str, chance: random.Random) -> bytes:
    """Message number ``n`` of the mix, CRLF line endings as the mail store holds them."""
    subject = " ".join(chance.sample(WORDS, 3)) + f" {n}"
    sender = chance.choice(SENDERS)
    head = (
        f"From: {sender.split('@')[0].title()} <{sender}>\r\nTo: <{recipient}>\r\n"
        f"Subject: {subject}\r\nDate: Thu, 26 Nov 2026 12:00:00 +0000\r\n"
        f"Message-ID: <{uuid.UUID(int=chance.getrandbits(128)).hex}@example.org>\r\n"
        "MIME-Version: 1.0\r\n"
    )
    text = LINE * chance.randint(12, 150)
    kind = chance.random()
    if kind < 0.10:
        blob = base64.encodebytes(chance.randbytes(chance.randint(10_000, 80_000)))
        body = (
            'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n--b1\r\n'
            f"Content-Type: text/plain; charset=us-ascii\r\n\r\n{text}--b1\r\n"
            "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n"
            'Content-Disposition: attachment; filename="data.bin"\r\n\r\n'
            + blob.decode().replace("\n", "\r\n")
            + "--b1--\r\n"
        )
    elif kind < 0.15:
        body = (
            'Content-Type: multipart/alternative; boundary="a1"\r\n\r\n--a1\r\n'
            f"Content-Type: text/plain; charset=us-ascii\r\n\r\n{text}--a1\r\n"
            "Content-Type: text/html; charset=us-ascii\r\n\r\n"
            f"<html><body><p>{text}</p></body></html>\r\n--a1--\r\n"
        )
    else:
        body = f"Content-Type: text/plain; charset=us-ascii\r\n\r\n{text}"
    return (head + body).encode()


def mailbox(recipient: str, count: int, seed: int) -> Iterator[bytes]:
    chance = random.Random(seed)  # noqa: S311 - test data, not secrets
    for n in range(1, count + 1):
        yield mixed_message(n, recipient, chance)


def large_message(recipient: str, size: int) -> bytes:
    """One message of about ``size`` octets: text and a base64 attachment."""
    chance = random.Random(size)  # noqa: S311
    blob = base64.encodebytes(chance.randbytes(size * 3 // 4)).decode().replace("\n", "\r\n")
    return (
        f"From: <alice@example.org>\r\nTo: <{recipient}>\r\nSubject: large\r\n"
        "Date: Thu, 26 Nov 2026 12:00:00 +0000\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n--b1\r\n'
        "Content-Type: text/plain\r\n\r\nThe attachment.\r\n--b1\r\n"
        "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        f"{blob}--b1--\r\n"
    ).encode()


async def store(database_url: str, recipient: str, messages: Iterator[bytes]) -> int:
    """Deliver ``messages`` to ``recipient``'s Inbox with the mail store's code; how many.

    The parsing (most of the time) runs in one worker process per CPU, a batch at a
    time, while the previous batch is written.
    """
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2, init=init_connection)
    loop = asyncio.get_running_loop()
    count = 0
    try:
        with ProcessPoolExecutor(os.cpu_count()) as workers:
            for raws in _batches(messages):
                parsed = await asyncio.gather(
                    *(loop.run_in_executor(workers, _parse_all, part) for part in _split(raws))
                )
                batch = [
                    mailstore_db.NewMessage(
                        uuid.uuid4().hex, "bench@example.org", [recipient], None, raw, result
                    )
                    for raw, result in zip(raws, itertools.chain(*parsed), strict=True)
                ]
                count += await _store_batch(pool, batch)
    finally:
        await pool.close()
    return count


def _batches(messages: Iterator[bytes]) -> Iterator[list[bytes]]:
    while batch := list(itertools.islice(messages, BATCH)):
        yield batch


def _split(raws: list[bytes]) -> list[list[bytes]]:
    step = -(-len(raws) // (os.cpu_count() or 1))
    return [raws[n : n + step] for n in range(0, len(raws), step)]


def _parse_all(raws: list[bytes]) -> list[ParsedMessage]:
    return [parse_message(raw) for raw in raws]


async def _store_batch(pool: object, batch: list[mailstore_db.NewMessage]) -> int:
    outcomes = await mailstore_db.store_messages(pool, batch)
    stored = sum(1 for o in outcomes if o.stored and o.entries)
    if stored != len(batch):
        raise RuntimeError(f"stored {stored} of {len(batch)}: is the account there?")
    return stored
