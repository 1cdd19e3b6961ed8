"""A delivered batch labels its entries' conversations itself (conversation_keys,
db.conversations.label_batch) exactly as migration 0018's trigger would one by one."""

from __future__ import annotations

import random
import secrets
from pathlib import Path
from typing import Any

import pytest

from mailstore import db
from mailstore.conversation_keys import Keys, keys_of, labels, msg_ids
from mailstore.db import imap_append
from mailstore.parsing import parse_message

ALICE, BOB = "alice@localpost.test", "bob@localpost.test"
CORPUS = Path(__file__).resolve().parents[4] / "shared" / "corpus" / "emails"

# conversation_of's first statement and its keys and target, for one header triple.
_SQL_KEYS = """
WITH m AS (SELECT $1::text AS message_id_header, $2::text AS references_header,
                  $3::text AS in_reply_to),
parts AS (
    SELECT (msg_ids(m.message_id_header))[1] AS own,
           (msg_ids(left(m.references_header, 1000)))[1] AS root,
           (SELECT coalesce(array_agg(r.k ORDER BY r.n DESC), '{}') FROM (
                SELECT k, n FROM unnest(msg_ids(right(m.references_header, 6000)))
                    WITH ORDINALITY AS u (k, n)
                ORDER BY n DESC LIMIT 20) r)
               || (msg_ids(left(m.in_reply_to, 1000)))[1:1] AS parents
    FROM m
)
SELECT ARRAY(SELECT DISTINCT k FROM unnest(ARRAY[root, own] || parents) AS k
             WHERE k IS NOT NULL) AS keys,
       coalesce(root, parents[1], own) AS target
FROM parts
"""

HOSTILE = [
    (None, None, None),
    ("", "", ""),
    ("<a@x>", "<r@x> <p@x>", "<p@x>"),
    ("no brackets", "garbage <r@x> (comment <c@x>) <p@x>", "Re: <q@x> <z@x>"),
    ("<a b@x>", "<<r@x>>", "<p@x"),
    ("<" + "a" * 250 + ">", "<" + "b" * 251 + "> <c@x>", "<" + "d" * 249 + "@>"),
    ("<a@x>", " ".join(f"<r{i}@x>" for i in range(3000)), None),
    ("<a@x>", "<root@x>" + " " * 5000 + " ".join(f"<p{i}@x>" for i in range(30)), "<p29@x>"),
    ("<a\t@x>", "<r@x>\r\n <p@x>", "<p@x>\x0b"),
    ("<ä@x>", "<ß@x> <ü@x>", "<é@x>"),
]


def test_a_message_without_msg_ids_has_no_keys() -> None:
    assert keys_of(None, "", "nothing here") == Keys(frozenset(), None)
    assert msg_ids("a <b@x> c <d@x>") == ["<b@x>", "<d@x>"]


def test_an_entry_is_left_to_the_trigger_when_it_meets_another_of_the_batch() -> None:
    a = keys_of("<a@x>", None, None)
    b = keys_of("<b@x>", "<a@x>", "<a@x>")
    c = keys_of("<c@x>", None, None)

    # b names a: both wait for the trigger; c stands alone; Bob's a meets nobody of his.
    chosen = labels([(1, a), (1, b), (1, c), (2, a)], [frozenset()] * 4)
    assert chosen == [None, None, "<c@x>", "<a@x>"]
    # A label found that is not the target means a merge: the trigger does it.
    assert labels([(1, b)], [frozenset({"<other@x>"})]) == [None]
    assert labels([(1, b)], [frozenset({"<a@x>"})]) == ["<a@x>"]
    # Two entries reaching one existing conversation wait too (one may merge it).
    d = keys_of("<d@x>", "<k@x>", None)
    e = keys_of("<e@x>", "<j@x>", None)
    assert labels([(1, d), (1, e)], [frozenset({"<k@x>"}), frozenset({"<k@x>"})]) == [None, None]


def header_triples() -> list[tuple[str | None, str | None, str | None]]:
    triples = list(HOSTILE)
    corpus = sorted(CORPUS.rglob("*.eml")) if CORPUS.is_dir() else []
    for path in corpus:
        parsed = parse_message(path.read_bytes())
        triples.append((parsed.message_id, parsed.references, parsed.in_reply_to))
    return triples


async def test_the_keys_are_the_sql_functions_keys(pool: Any) -> None:
    """Crafted and hostile fields, and every corpus message when the checkout has it."""
    triples = header_triples()
    async with pool.acquire() as con:
        for triple in triples:
            # PostgreSQL text holds no NUL: such a field is stored without it (parsing).
            if any("\x00" in (field or "") for field in triple):
                continue
            row = await con.fetchrow(_SQL_KEYS, *triple)
            expected = Keys(frozenset(row["keys"]), row["target"])
            assert keys_of(*triple) == expected, triple


def thread_messages(seed: int, count: int = 240) -> list[bytes]:
    """Threads whose replies arrive in any order, reused and missing Message-IDs, loops,
    and now and then a reference into another thread (a merge)."""
    chance = random.Random(seed)
    threads = [[f"<t{t}.{n}.{seed}@x>" for n in range(6)] for t in range(30)]
    raws = []
    for _ in range(count):
        ids = chance.choice(threads)
        headers = ["From: c@example.com", f"To: {ALICE}", "Subject: s"]
        if chance.random() > 0.05:
            headers.append(f"Message-ID: {chance.choice(ids)}")
        if chance.random() < 0.6:
            refs = chance.sample(ids, chance.randint(1, 4))
            if chance.random() < 0.03:
                refs.append(chance.choice(chance.choice(threads)))
            headers.append("References: " + " ".join(refs))
        if chance.random() < 0.5:
            headers.append(f"In-Reply-To: {chance.choice(ids)}")
        raws.append(("\r\n".join(headers) + "\r\n\r\nHi\r\n").encode())
    return raws


@pytest.mark.parametrize(("seed", "way"), [(1, "delivery"), (2, "delivery"), (3, "append")])
async def test_batches_label_as_the_trigger_does_one_by_one(pool: Any, seed: int, way: str) -> None:
    for address in (ALICE, BOB):
        await db.create_account(pool, address=address, name="", password_hash="x")
    chance = random.Random(seed)
    raws = thread_messages(seed)
    ids: list[str] = []
    start = 0
    while start < len(raws):
        batch = raws[start : start + chance.randint(1, 40)]
        start += len(batch)
        if way == "append":  # MULTIAPPEND (RFC 3502): one transaction for the batch
            ids.extend(await multiappend(pool, batch))
            continue
        news = [
            db.NewMessage(
                secrets.token_hex(13).upper(),
                "c@example.com",
                [ALICE],
                None,
                raw,
                parse_message(raw),
            )
            for raw in batch
        ]
        await db.store_messages(pool, news)
        ids.extend(n.gateway_id for n in news)
    # Bob gets the same messages one statement each: the trigger alone labels them.
    bob = await pool.fetchval("SELECT id FROM accounts WHERE address = $1", BOB)
    for uid, message_id in enumerate(ids, start=1):
        await pool.execute(
            "INSERT INTO mailbox_entries (account_id, message_id, role, folder_id, uid)"
            " VALUES ($1, $2, 'received', 'inbox', $3)",
            bob,
            message_id,
            uid,
        )

    query = """
        SELECT e.conversation FROM mailbox_entries e JOIN accounts a ON a.id = e.account_id
        WHERE a.address = $1 ORDER BY e.uid
    """
    alice_labels = [row[0] for row in await pool.fetch(query, ALICE)]
    bob_labels = [row[0] for row in await pool.fetch(query, BOB)]
    assert alice_labels == bob_labels
    assert len(set(alice_labels)) > 5


async def multiappend(pool: Any, raws: list[bytes]) -> list[str]:
    """APPEND ``raws`` to Alice's INBOX at once; their messages' ids."""
    alice = await pool.fetchval("SELECT id FROM accounts WHERE address = $1", ALICE)
    appended = [
        imap_append.Appended(raw, parse_message(raw), frozenset(), frozenset(), None)
        for raw in raws
    ]
    outcome = await imap_append.append(
        pool, account_id=alice, address=ALICE, name="INBOX", messages=appended
    )
    rows = await pool.fetch(
        "SELECT message_id FROM mailbox_entries WHERE account_id = $1 AND uid = any($2::bigint[])"
        " ORDER BY uid",
        alice,
        outcome.uids,
    )
    return [row[0] for row in rows]


async def test_a_batch_labels_without_the_trigger(pool: Any, deliver: Any) -> None:
    """What the parity test above compares is not the trigger twice."""
    await db.create_account(pool, address=ALICE, name="", password_hash="x")
    await pool.execute("ALTER TABLE mailbox_entries DISABLE TRIGGER mailbox_entries_conversation")
    try:
        await deliver(b"Message-ID: <a@x>\r\n\r\nHi\r\n", rcpt_to=[ALICE])
        await deliver(b"Message-ID: <b@x>\r\nReferences: <a@x>\r\n\r\nHi\r\n", rcpt_to=[ALICE])
    finally:
        await pool.execute(
            "ALTER TABLE mailbox_entries ENABLE TRIGGER mailbox_entries_conversation"
        )

    rows = await pool.fetch("SELECT conversation FROM mailbox_entries ORDER BY id")
    assert [row[0] for row in rows] == ["<a@x>", "<a@x>"]
