from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aio_pika
import asyncpg
import pytest
from aio_pika.abc import AbstractChannel, AbstractRobustConnection

from mailstore import consumer as consumer_module
from mailstore import db
from mailstore.consumer import Consumer
from mailstore.db import is_outage
from mailstore.events import EventPublisher
from mailstore.metrics import create_metrics
from mailstore.parsing import parse_message
from mailstore.passwords import hash_password
from mailstore.settings import Config
from mailstore.topology import Topology, declare_topology
from tests.integration.amqp_queues import next_message, nothing_more

ALICE, BOB = "alice@localpost.test", "bob@localpost.test"
POSTMASTER = "postmaster@localpost.test"
CORPUS = Path(__file__).resolve().parents[3] / ".." / "shared" / "corpus" / "emails"


def raw_mail(subject: str = "Hello") -> bytes:
    return (
        f"Received: from client by gateway\r\nFrom: Carol <carol@example.com>\r\n"
        f"To: {ALICE}, {BOB}\r\nSubject: {subject}\r\n"
        "Message-ID: <same@example.com>\r\n\r\nBody text.\r\n"
    ).encode()


def gateway_id() -> str:
    return secrets.token_hex(13).upper()


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    # Polls: the database and the broker have no way to notify the test.
    async with asyncio.timeout(timeout):
        while not await check():  # noqa: ASYNC110
            await asyncio.sleep(0.05)


@pytest.fixture
async def accounts(pool: Any) -> None:
    for address in (ALICE, BOB):
        await db.create_account(
            pool, address=address, name="", password_hash=hash_password("x" * 8, rounds=4)
        )


@pytest.fixture
async def channel(broker: AbstractRobustConnection, prefix: str) -> AsyncIterator[AbstractChannel]:
    channel = await broker.channel(publisher_confirms=True, on_return_raises=True)
    await declare_topology(channel, Topology(prefix))
    yield channel
    await channel.close()


async def publish(
    channel: AbstractChannel,
    prefix: str,
    raw: bytes,
    *,
    message_id: str,
    rcpt_to: list[str] | None = None,
    submitted_by: str | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    headers: dict[str, Any] = {"x-localpost-mail-from": "carol@example.com", **(extra or {})}
    if rcpt_to is not None:
        headers["x-localpost-rcpt-to"] = rcpt_to
    if submitted_by is not None:
        headers["x-localpost-submitted-by"] = submitted_by
    exchange = await channel.get_exchange(Topology(prefix).mail_exchange)
    message = aio_pika.Message(
        raw,
        message_id=message_id,
        headers=headers,
        content_type="message/rfc822",
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
    )
    await exchange.publish(message, routing_key="incoming", mandatory=True)


async def publish_batch(
    channel: AbstractChannel,
    prefix: str,
    mail: list[tuple[str, bytes, list[str]]],
    *,
    extra: dict[str, Any] | None = None,
    manifest_extra: dict[str, Any] | None = None,
) -> None:
    """(gateway id, raw, recipients) in one AMQP message, as a busy gateway sends them."""
    manifest = json.dumps(
        [
            {"id": m_id, "mail_from": "carol@example.com", "rcpt_to": rcpt_to,
             "submitted_by": None, "size": len(raw), **(manifest_extra or {})}
            for m_id, raw, rcpt_to in mail
        ]
    ).encode()  # fmt: skip
    exchange = await channel.get_exchange(Topology(prefix).mail_exchange)
    message = aio_pika.Message(
        b"".join([manifest, *(raw for _, raw, _ in mail)]),
        message_id=f"batch-{mail[0][0]}",
        headers={"x-localpost-manifest": len(manifest), **(extra or {})},
        content_type="application/x-localpost-batch",
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
    )
    await exchange.publish(message, routing_key="incoming", mandatory=True)


async def ready_ids(channel: AbstractChannel, name: str) -> list[str | None]:
    """The ids of the messages ready in a queue, which stay there (got, then requeued).

    basic.get rather than queue.declare's message_count: for quorum queues the broker
    reports that count with a delay.
    """
    queue = await channel.declare_queue(name, passive=True)
    taken = []
    while (message := await queue.get(fail=False, timeout=5)) is not None:
        taken.append(message)
    for message in taken:
        await message.nack(requeue=True)
    return [message.message_id for message in taken]


async def dead_letters(channel: AbstractChannel, prefix: str) -> list[Any]:
    queue = await channel.declare_queue(Topology(prefix).dead_queue, passive=True)
    found = []
    while (message := await queue.get(fail=False, timeout=5)) is not None:
        await message.ack()
        found.append(message)
    return found


RunConsumer = Callable[..., Awaitable[Consumer]]


@pytest.fixture
async def run_consumer(config: Config) -> AsyncIterator[RunConsumer]:
    """Start consumers (on a pool of the caller's choice); all are stopped afterwards."""
    started: list[tuple[Consumer, Any]] = []

    async def run(database_url: str | None = None, *, prefetch: int | None = None) -> Consumer:
        pool = await asyncpg.create_pool(
            database_url or config.database_url,
            min_size=1,
            max_size=5,
            init=db.init_connection,
            timeout=2,
        )
        settings = config if prefetch is None else dataclasses.replace(config, prefetch=prefetch)
        consumer = Consumer(settings, pool=pool, metrics=create_metrics(), events=EventPublisher())
        started.append((consumer, pool))
        consumer.start()
        await eventually(lambda: asyncio.sleep(0, consumer.ready))
        return consumer

    yield run
    for consumer, pool in started:
        await consumer.stop(grace=2)
        await pool.close()


def counter(consumer: Consumer, name: str) -> float:
    value = consumer._metrics.registry.get_sample_value(name)
    return value or 0.0


async def stored_count(pool: Any) -> int:
    count: int = await pool.fetchval("SELECT count(*) FROM messages")
    return count


# -- storing ---------------------------------------------------------------------------------


async def test_message_is_stored_with_its_entries_then_acked_and_announced(
    pool: Any, accounts: None, channel: AbstractChannel, prefix: str, run_consumer: RunConsumer
) -> None:
    events = await channel.declare_queue(exclusive=True)
    await events.bind(Topology(prefix).events_exchange)
    consumer = await run_consumer()
    message_id = gateway_id()

    await publish(
        channel,
        prefix,
        raw_mail(),
        message_id=message_id,
        rcpt_to=[ALICE, "BOB@localpost.test", POSTMASTER],
        submitted_by=ALICE,
    )
    await eventually(lambda: _stored(consumer))

    entries = await pool.fetch(
        """
        SELECT a.address, e.folder_id, e.role, e.seen FROM mailbox_entries e
        JOIN accounts a ON a.id = e.account_id ORDER BY a.address, e.role
        """
    )
    row = await pool.fetchrow("SELECT * FROM messages WHERE id = $1", message_id)
    assert [tuple(entry) for entry in entries] == [
        (ALICE, "inbox", "received", False),
        (ALICE, "sent", "sent", True),
        (BOB, "inbox", "received", False),
    ]
    # postmaster has no account: the message is stored anyway, with no entry for it.
    assert row["rcpt_to"] == [ALICE, BOB, POSTMASTER]
    assert (row["subject"], row["submitted_by"], row["raw"]) == ("Hello", ALICE, raw_mail())
    assert await ready_ids(channel, Topology(prefix).incoming_queue) == []
    # One event for the committed batch, listing every entry made.
    event = await next_message(events)
    await event.ack()
    announced = json.loads(event.body)
    assert announced["event"] == "stored"
    assert sorted((e["account"], e["folder"]) for e in announced["entries"]) == [
        (ALICE, "inbox"),
        (ALICE, "sent"),
        (BOB, "inbox"),
    ]
    assert all(e["message_id"] == message_id for e in announced["entries"])
    # What an IMAP session needs for EXISTS and CONDSTORE: each entry's UID and MODSEQ.
    assert {(e["uid"], e["modseq"]) for e in announced["entries"]} == {(1, 2)}
    assert await nothing_more(events) is None


async def _stored(consumer: Consumer, count: float = 1) -> bool:
    return counter(consumer, "mailstore_messages_stored_total") >= count


async def _ready_are(channel: AbstractChannel, queue: str, ids: list[str]) -> bool:
    return await ready_ids(channel, queue) == ids


async def test_a_burst_is_stored_in_batches_each_message_once_and_announced(
    pool: Any, accounts: None, channel: AbstractChannel, prefix: str, run_consumer: RunConsumer
) -> None:
    events = await channel.declare_queue(exclusive=True)
    await events.bind(Topology(prefix).events_exchange)
    ids = [gateway_id() for _ in range(300)]
    consumer = await run_consumer(prefetch=128)
    async with pool.acquire() as con:
        # The database holds the first batch back while the burst arrives, as a
        # database slower than the queue does under load.
        blocker = con.transaction()
        await blocker.start()
        await con.execute("LOCK TABLE messages IN EXCLUSIVE MODE")
        for n, message_id in enumerate(ids):
            await publish(
                channel, prefix, raw_mail(f"burst {n}"), message_id=message_id, rcpt_to=[ALICE]
            )
        await eventually(lambda: asyncio.sleep(0, consumer.unsettled >= 128))  # its prefetch
        await blocker.rollback()
    await eventually(lambda: _stored(consumer, 300))

    assert await pool.fetchval("SELECT count(*) FROM messages WHERE id = any($1)", ids) == 300
    entry_ids = await pool.fetch(
        "SELECT e.id, m.subject FROM mailbox_entries e JOIN messages m ON m.id = e.message_id"
        " ORDER BY e.id"
    )
    # Entry ids follow the queue's order, so the Inbox lists the burst as it was sent.
    assert [row["subject"] for row in entry_ids] == [f"burst {n}" for n in range(300)]
    registry = consumer._metrics.registry
    transactions = registry.get_sample_value("mailstore_batch_messages_count")
    up_to_8 = registry.get_sample_value("mailstore_batch_messages_bucket", {"le": "8.0"})
    assert transactions is not None
    assert up_to_8 is not None
    # Batched: far fewer transactions than messages, and some of them large.
    assert transactions < 300 / 2
    assert up_to_8 < transactions
    assert await ready_ids(channel, Topology(prefix).incoming_queue) == []
    announced, batches = [], 0
    while len(announced) < len(ids):
        event = await next_message(events)
        announced += [entry["message_id"] for entry in json.loads(event.body)["entries"]]
        batches += 1
    assert announced == ids
    assert await nothing_more(events) is None
    # An event per transaction, not per message.
    assert batches == transactions


async def test_a_gateway_batch_is_stored_once_acknowledged_and_announced_in_order(
    pool: Any, accounts: None, channel: AbstractChannel, prefix: str, run_consumer: RunConsumer
) -> None:
    events = await channel.declare_queue(exclusive=True)
    await events.bind(Topology(prefix).events_exchange)
    consumer = await run_consumer()
    mail = [
        (gateway_id(), raw_mail(f"in a batch {n}"), [ALICE, BOB][: 1 + n % 2]) for n in range(5)
    ]

    await publish_batch(channel, prefix, mail)
    # Redelivered (a gateway retry cannot do this, a broker redelivery can): no change.
    await publish_batch(channel, prefix, mail)
    await eventually(lambda: _stored(consumer, 5))
    await eventually(lambda: _ready_are(channel, Topology(prefix).incoming_queue, []))

    rows = await pool.fetch("SELECT id, rcpt_to, raw FROM messages ORDER BY subject")
    assert [(r["id"], r["rcpt_to"], r["raw"]) for r in rows] == [
        (m_id, rcpt_to, raw) for m_id, raw, rcpt_to in mail
    ]
    expected = [(m_id, rcpt) for m_id, _, rcpt_to in mail for rcpt in rcpt_to]
    announced = []
    while len(announced) < len(expected):
        event = await next_message(events)
        announced += [(e["message_id"], e["account"]) for e in json.loads(event.body)["entries"]]
    assert announced == expected
    assert await nothing_more(events) is None
    assert counter(consumer, "mailstore_duplicates_skipped_total") == 5


@pytest.fixture
async def poison_refused(pool: Any, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[None]:
    """A deterministic failure inside the transaction, as a bug or a constraint would be:
    the database refuses every message with the subject "poison"."""
    monkeypatch.setattr(consumer_module, "RETRY_DELAY", 0.01)
    await pool.execute(
        """
        CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.subject = 'poison' THEN RAISE EXCEPTION 'poison refused'; END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER refuse_poison BEFORE INSERT ON messages
            FOR EACH ROW EXECUTE FUNCTION refuse_poison();
        """
    )
    try:
        yield
    finally:
        await pool.execute("DROP TRIGGER refuse_poison ON messages; DROP FUNCTION refuse_poison()")


async def test_a_poison_message_in_a_batch_is_dead_lettered_alone_and_the_rest_stored(
    pool: Any,
    accounts: None,
    channel: AbstractChannel,
    prefix: str,
    run_consumer: RunConsumer,
    poison_refused: None,
) -> None:
    mail = [
        (gateway_id(), raw_mail("fine 1"), [ALICE]),
        (gateway_id(), raw_mail("poison"), [ALICE, BOB]),
        (gateway_id(), raw_mail("fine 2"), [BOB]),
    ]
    consumer = await run_consumer()
    await publish_batch(channel, prefix, mail)
    await eventually(
        lambda: asyncio.sleep(0, counter(consumer, "mailstore_dead_lettered_total") == 1)
    )
    await eventually(lambda: _stored(consumer, 2))
    await eventually(lambda: _ready_are(channel, Topology(prefix).incoming_queue, []))

    # Alone, in the single form, with its own envelope: as if it had come alone.
    (dead,) = await dead_letters(channel, prefix)
    assert dead.message_id == mail[1][0]
    assert dead.content_type == "message/rfc822"
    assert dead.body == raw_mail("poison")
    assert dead.headers["x-localpost-rcpt-to"] == [ALICE, BOB]
    assert dead.headers["x-localpost-mail-from"] == "carol@example.com"
    assert "poison refused" in dead.headers["x-localpost-error"]
    subjects = await pool.fetch("SELECT subject FROM messages ORDER BY subject")
    assert [r["subject"] for r in subjects] == ["fine 1", "fine 2"]


async def test_a_batch_breaking_the_contract_is_dead_lettered_whole_as_it_came(
    pool: Any, accounts: None, channel: AbstractChannel, prefix: str, run_consumer: RunConsumer
) -> None:
    consumer = await run_consumer()
    mail = [(gateway_id(), raw_mail("one"), [ALICE]), (gateway_id(), raw_mail("two"), [BOB])]

    # The sizes claim one octet more than the body holds.
    await publish_batch(channel, prefix, mail, manifest_extra={"size": len(raw_mail("one")) + 1})

    (dead,) = [m async for m in _eventually_dead(channel, prefix)]
    assert dead.content_type == "application/x-localpost-batch"
    assert dead.body.endswith(raw_mail("one") + raw_mail("two"))
    assert "invalid envelope" in dead.headers["x-localpost-error"]
    assert await stored_count(pool) == 0
    assert counter(consumer, "mailstore_dead_lettered_total") == 1
    assert await ready_ids(channel, Topology(prefix).incoming_queue) == []


async def test_a_batch_redelivered_too_often_is_dead_lettered_one_message_at_a_time(
    pool: Any, accounts: None, channel: AbstractChannel, prefix: str, run_consumer: RunConsumer
) -> None:
    consumer = await run_consumer()
    deliveries = {"x-delivery-count": consumer_module.REDELIVERY_LIMIT}
    mail = [(gateway_id(), raw_mail(f"n{n}"), [ALICE]) for n in range(3)]

    await publish_batch(channel, prefix, mail, extra=deliveries)

    await eventually(
        lambda: asyncio.sleep(0, counter(consumer, "mailstore_dead_lettered_total") == 3)
    )
    dead = await dead_letters(channel, prefix)
    assert sorted(m.message_id for m in dead) == sorted(m_id for m_id, _, _ in mail)
    assert all("delivered 20 times" in m.headers["x-localpost-error"] for m in dead)
    assert await stored_count(pool) == 0
    assert await ready_ids(channel, Topology(prefix).incoming_queue) == []


async def test_a_batch_with_a_repeated_id_stores_it_once(pool: Any, accounts: None) -> None:
    parsed = parse_message(raw_mail())
    first = gateway_id()
    batch = [
        db.NewMessage(first, "carol@example.com", [ALICE], None, raw_mail(), parsed),
        db.NewMessage(gateway_id(), "carol@example.com", [ALICE], ALICE, raw_mail(), parsed),
        db.NewMessage(first, "carol@example.com", [ALICE], None, raw_mail(), parsed),
    ]

    outcomes = await db.store_messages(pool, batch)
    again = await db.store_messages(pool, batch[:1])

    assert [o.stored for o in outcomes] == [True, True, False]
    assert [e.folder for e in outcomes[1].entries] == ["inbox", "sent"]
    assert [o.stored for o in again] == [False]
    assert await stored_count(pool) == 2


async def test_redelivered_message_is_stored_once(
    pool: Any, accounts: None, channel: AbstractChannel, prefix: str, run_consumer: RunConsumer
) -> None:
    consumer = await run_consumer()
    message_id = gateway_id()

    for _ in range(2):
        await publish(channel, prefix, raw_mail(), message_id=message_id, rcpt_to=[ALICE])
    # Another gateway id with the same Message-ID header is another message.
    await publish(channel, prefix, raw_mail(), message_id=gateway_id(), rcpt_to=[ALICE])

    async def settled() -> bool:
        return counter(consumer, "mailstore_duplicates_skipped_total") == 1 and await _stored(
            consumer, 2
        )

    await eventually(settled)
    assert await stored_count(pool) == 2
    assert await pool.fetchval("SELECT count(*) FROM mailbox_entries") == 2


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"no email corpus at {CORPUS}")
async def test_broken_messages_are_stored_raw_and_readable(
    pool: Any, accounts: None, channel: AbstractChannel, prefix: str, run_consumer: RunConsumer
) -> None:
    consumer = await run_consumer()
    # The corpus's most damaged messages, plus one our parser gives up on (too deep).
    broken = [
        (CORPUS / "stalwart-mail-parser" / "malformed__019.eml").read_bytes(),
        (CORPUS / "enmime" / "mail__multipart-wo-boundary.eml").read_bytes(),
        b"Subject: deep\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n"
        + b"".join(
            b"--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n" % (n, n + 1)
            for n in range(60)
        ),
        b"\x00\xff\xfe garbage with no headers \x00",
    ]
    ids = [gateway_id() for _ in broken]
    for message_id, raw in zip(ids, broken, strict=True):
        await publish(channel, prefix, raw, message_id=message_id, rcpt_to=[ALICE])

    await eventually(lambda: _stored(consumer, len(broken)))
    for message_id, raw in zip(ids, broken, strict=True):
        entry = await pool.fetchval(
            "SELECT id FROM mailbox_entries WHERE message_id = $1", message_id
        )
        account = await db.get_account(pool, address=ALICE)
        assert await db.get_raw(pool, account_id=account["id"], entry_id=entry) == raw
    errors = await pool.fetchval("SELECT count(*) FROM messages WHERE parse_error IS NOT NULL")
    assert errors >= 1
    assert counter(consumer, "mailstore_parse_errors_total") == errors


# -- failures --------------------------------------------------------------------------------


async def test_message_breaking_the_contract_is_dead_lettered_with_its_reason(
    pool: Any, channel: AbstractChannel, prefix: str, run_consumer: RunConsumer
) -> None:
    consumer = await run_consumer()

    await publish(channel, prefix, raw_mail(), message_id=gateway_id(), rcpt_to=None)
    await publish(channel, prefix, raw_mail(), message_id="not-a-ulid", rcpt_to=[ALICE])

    await eventually(
        lambda: asyncio.sleep(0, counter(consumer, "mailstore_dead_lettered_total") == 2)
    )
    reasons = sorted(m.headers["x-localpost-error"] for m in await dead_letters(channel, prefix))
    assert len(reasons) == 2
    assert "message_id" in reasons[0]
    assert "x-localpost-rcpt-to" in reasons[1]
    assert await stored_count(pool) == 0
    assert await ready_ids(channel, Topology(prefix).incoming_queue) == []


async def test_message_redelivered_too_often_is_dead_lettered_unprocessed(
    pool: Any, accounts: None, channel: AbstractChannel, prefix: str, run_consumer: RunConsumer
) -> None:
    consumer = await run_consumer()
    # As if it had killed its consumer 25 times: quorum queues count in x-delivery-count.
    deliveries = {"x-delivery-count": consumer_module.REDELIVERY_LIMIT + 5}

    await publish(
        channel, prefix, raw_mail(), message_id=gateway_id(), rcpt_to=[ALICE], extra=deliveries
    )

    (dead,) = [m async for m in _eventually_dead(channel, prefix)]
    assert "delivered 25 times" in dead.headers["x-localpost-error"]
    assert await stored_count(pool) == 0
    assert counter(consumer, "mailstore_dead_lettered_total") == 1


async def _eventually_dead(channel: AbstractChannel, prefix: str) -> AsyncIterator[Any]:
    found: list[Any] = []

    async def collect() -> bool:
        found.extend(await dead_letters(channel, prefix))
        return bool(found)

    await eventually(collect)
    for message in found:
        yield message


async def test_message_that_keeps_failing_is_dead_lettered_after_retries(
    pool: Any,
    accounts: None,
    channel: AbstractChannel,
    prefix: str,
    run_consumer: RunConsumer,
    poison_refused: None,
) -> None:
    consumer = await run_consumer()
    poison_id = gateway_id()
    await publish(channel, prefix, raw_mail("poison"), message_id=poison_id, rcpt_to=[ALICE])
    await publish(channel, prefix, raw_mail("fine"), message_id=gateway_id(), rcpt_to=[ALICE])

    await eventually(
        lambda: asyncio.sleep(0, counter(consumer, "mailstore_dead_lettered_total") == 1)
    )
    await eventually(lambda: _stored(consumer))

    (dead,) = await dead_letters(channel, prefix)
    assert dead.message_id == poison_id
    assert "poison refused" in dead.headers["x-localpost-error"]
    assert dead.body == raw_mail("poison")
    assert await pool.fetchval("SELECT subject FROM messages") == "fine"


async def test_uncommitted_message_is_not_acked_and_returns_to_the_queue(
    pool: Any, accounts: None, channel: AbstractChannel, prefix: str, run_consumer: RunConsumer
) -> None:
    consumer = await run_consumer()
    message_id = gateway_id()
    incoming = Topology(prefix).incoming_queue
    async with pool.acquire() as con:
        blocker = con.transaction()
        await blocker.start()
        # Holds the consumer's INSERT: the message is delivered but cannot commit.
        await con.execute("LOCK TABLE messages IN EXCLUSIVE MODE")
        await publish(channel, prefix, raw_mail(), message_id=message_id, rcpt_to=[ALICE])
        await eventually(lambda: asyncio.sleep(0, consumer.unsettled > 0))
        assert await ready_ids(channel, incoming) == []  # delivered, unacknowledged

        await consumer.stop(grace=0.5)  # gives up on it: the broker must requeue it
        await eventually(lambda: _ready_are(channel, incoming, [message_id]))
        await blocker.rollback()

    second = await run_consumer()
    await eventually(lambda: _stored(second))
    assert await stored_count(pool) == 1


# -- database outage -------------------------------------------------------------------------


class TcpProxy:
    """A TCP forwarder to PostgreSQL that the test can take down and bring back."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def up(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def down(self) -> None:
        assert self._server is not None
        self._server.close()
        # Connections first: since Python 3.12.1 wait_closed() waits for every accepted
        # connection to close, and before it returned at once (a hang only newer
        # Pythons showed).
        for writer in self._writers:
            writer.transport.abort()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()
        self._writers.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pipe(source, sink))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
        sink.transport.abort()


@pytest.fixture
async def proxy(config: Config) -> AsyncIterator[tuple[TcpProxy, str]]:
    """A proxy to the test database, and a URL through it; requested before run_consumer,
    so that it outlives the consumer's pool."""
    parts = urlsplit(config.database_url)
    proxy = TcpProxy((parts.hostname or "127.0.0.1", parts.port or 5432))
    await proxy.up()
    netloc = f"{parts.username}@127.0.0.1:{proxy.port}"
    yield proxy, urlunsplit(parts._replace(netloc=netloc))
    await proxy.down()


async def test_database_outage_holds_the_message_until_the_database_returns(
    pool: Any,
    accounts: None,
    channel: AbstractChannel,
    prefix: str,
    proxy: tuple[TcpProxy, str],
    run_consumer: RunConsumer,
) -> None:
    forwarder, through_proxy = proxy
    consumer = await run_consumer(through_proxy)
    await forwarder.down()
    message_id = gateway_id()
    await publish(channel, prefix, raw_mail(), message_id=message_id, rcpt_to=[ALICE])
    await eventually(
        lambda: asyncio.sleep(0, counter(consumer, "mailstore_database_retries_total") >= 3)
    )
    # Held, not requeued: nothing waits in the queue and nothing was dead-lettered.
    assert await ready_ids(channel, Topology(prefix).incoming_queue) == []
    assert counter(consumer, "mailstore_dead_lettered_total") == 0

    await forwarder.up()
    await eventually(lambda: _stored(consumer))

    assert await pool.fetchval("SELECT id FROM messages") == message_id
    assert await ready_ids(channel, Topology(prefix).dead_queue) == []


def test_a_connection_lost_inside_a_transaction_counts_as_an_outage() -> None:
    def commit_on_a_dropped_connection() -> None:
        try:
            raise asyncpg.ConnectionDoesNotExistError("connection was closed in the middle")
        except asyncpg.ConnectionDoesNotExistError:
            # What Transaction.__aexit__ raises when it finds the connection gone.
            raise asyncpg.InterfaceError("the underlying connection is closed") from None

    with pytest.raises(asyncpg.InterfaceError) as caught:
        commit_on_a_dropped_connection()

    assert caught.value.__cause__ is None
    assert is_outage(caught.value)


# What asyncpg raises for a pooled connection that took a shutting-down server's FATAL
# while idle, when it is used before the close arrives.
BROKEN_CONNECTION = "cannot switch to state 15; another operation (2) is in progress"


def test_a_connection_whose_protocol_state_broke_counts_as_an_outage() -> None:
    broken = asyncpg.InternalClientError(BROKEN_CONNECTION)

    assert is_outage(broken)


async def test_a_broken_pooled_connection_holds_the_message_instead_of_dead_lettering_it(
    pool: Any,
    accounts: None,
    channel: AbstractChannel,
    prefix: str,
    run_consumer: RunConsumer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # More failures than MAX_ATTEMPTS, while the database answers a ping: counted as the
    # message's, they would dead-letter an acknowledged message (the fault harness's
    # PostgreSQL scenarios lost one that way).
    real_store, failures = db.store_messages, [4]

    async def store_on_broken_connections(*args: Any, **kwargs: Any) -> Any:
        if failures[0] > 0:
            failures[0] -= 1
            raise asyncpg.InternalClientError(BROKEN_CONNECTION)
        return await real_store(*args, **kwargs)

    monkeypatch.setattr(consumer_module, "OUTAGE_BACKOFF_START", 0.01)
    monkeypatch.setattr(db, "store_messages", store_on_broken_connections)
    consumer = await run_consumer()
    message_id = gateway_id()
    await publish(channel, prefix, raw_mail(), message_id=message_id, rcpt_to=[ALICE])

    await eventually(lambda: _stored(consumer))
    assert failures == [0]
    assert await pool.fetchval("SELECT id FROM messages") == message_id
    assert counter(consumer, "mailstore_dead_lettered_total") == 0
    assert counter(consumer, "mailstore_database_retries_total") == 4


async def test_a_batch_that_fails_unexpectedly_goes_back_to_the_queue_at_once(
    pool: Any,
    accounts: None,
    channel: AbstractChannel,
    prefix: str,
    run_consumer: RunConsumer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A bug of ours outside the steps' own error handling (here: in parsing, once) must
    # not leave the delivery unacknowledged until the channel closes, which a healthy
    # connection never does: the mail would wait for the next restart.
    calls = [0]

    def parse_failing_once(raw: bytes) -> Any:
        calls[0] += 1
        if calls[0] == 1:
            raise RuntimeError("a bug in parsing")
        return parse_message(raw)

    monkeypatch.setattr(consumer_module, "parse_message", parse_failing_once)
    consumer = await run_consumer()
    message_id = gateway_id()
    await publish(channel, prefix, raw_mail(), message_id=message_id, rcpt_to=[ALICE])

    await eventually(lambda: _stored(consumer))
    assert calls[0] == 2
    assert await pool.fetchval("SELECT id FROM messages") == message_id
    assert counter(consumer, "mailstore_dead_lettered_total") == 0


def test_an_error_with_no_outage_in_its_chain_is_the_messages_fault() -> None:
    assert not is_outage(asyncpg.InterfaceError("cannot perform operation: misuse"))
    assert not is_outage(ValueError("bad row"))
