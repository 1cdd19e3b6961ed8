"""The RabbitMQ consumer: accepted mail from ``<prefix>.mail.incoming`` into PostgreSQL.

An AMQP message carries one mail message or, from a busy gateway, a batch of them
(docs/architecture.md); either way it is acknowledged once every mail message in it
is stored or dead-lettered. Mail messages are stored in batches: everything that
arrived while the previous batch was committing (up to BATCH_MAX). Per batch: read
each envelope from the contract's properties and headers (or the batch's manifest),
parse each body (in a thread when it is large), insert everything in one transaction,
acknowledge only after COMMIT returned, then publish one ``stored`` event. Failures
split three ways:

- the database is unavailable (connection refused or lost, shutdown, out of resources):
  the message is *held* and the transaction retried with exponential backoff until the
  database answers. Requeueing instead would spin through the queue and raise each
  message's delivery count until the broker drops or dead-letters it;
- the AMQP message breaks the contract (no gateway id, malformed headers or manifest):
  dead-lettered at once, as it came;
- anything else (a bug, a constraint violation): the batch is retried one message at a
  time, so that the rest of the batch is stored; the failing mail message is retried a
  few times in process, then published alone, in the single form, to the dead-letter
  exchange with ``x-localpost-error``.

Redelivery is harmless: the insert is idempotent on the gateway id (see ``db``).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TypeVar

import aio_pika
import aiormq
from aio_pika.abc import (
    AbstractIncomingMessage,
    AbstractRobustConnection,
    ConsumerTag,
)

from mailstore import db
from mailstore.db import is_outage
from mailstore.envelope import (
    BATCH_CONTENT_TYPE,
    CONTENT_TYPE,
    Envelope,
    delivery_count,
    read_deliveries,
    single_form_headers,
)
from mailstore.errors import InvalidEnvelope
from mailstore.events import PUBLISH_FAILED, PUBLISH_TIMEOUT, EventPublisher
from mailstore.metrics import Metrics
from mailstore.parsing import ParsedMessage, parse_message
from mailstore.settings import Config
from mailstore.topology import Declared, Topology, declare_topology

log = logging.getLogger(__name__)
T = TypeVar("T")

# A message delivered this often without an ack keeps killing its consumer (or its
# consumer keeps being killed): dead-letter it rather than crash-loop on it.
REDELIVERY_LIMIT = 20
# In-process attempts for a failure that is not an outage, before dead-lettering.
MAX_ATTEMPTS = 3
RETRY_DELAY = 0.2
OUTAGE_BACKOFF_START = 0.1
OUTAGE_BACKOFF_CAP = 5.0
BROKER_BACKOFF_CAP = 5.0
PING_TIMEOUT = 2.0
# One transaction stores at most this many messages, or this many octets of them (a
# single larger message is a batch of its own). Larger batches amortise the round trips
# and the COMMIT's fsync further, but hold their acks back longer.
BATCH_MAX = 64
BATCH_MAX_BYTES = 16 * 1024 * 1024
# Larger bodies are parsed in a worker thread so the event loop keeps serving.
PARSE_IN_THREAD_BYTES = 64 * 1024


# -- the consumer ----------------------------------------------------------------------------


@dataclass(slots=True, eq=False)
class _Parcel:
    """One AMQP delivery: a mail message, or a batch of them from the gateway."""

    message: AbstractIncomingMessage
    # Its mail messages neither stored nor dead-lettered yet; acknowledged at 0.
    unsettled: int = 0
    # Sent back to the queue (a dead-letter publish failed): never acknowledged here.
    requeued: bool = False

    @property
    def label(self) -> str:
        """For logs: the gateway id, or batch-<the first one's> for a batch."""
        return self.message.message_id or "(no id)"


@dataclass(slots=True)
class _Delivery:
    """One mail message and the AMQP delivery it came in."""

    parcel: _Parcel
    arrived: float
    raw: bytes
    envelope: Envelope | None = None
    # Why the whole AMQP message breaks the contract (it is then this one delivery).
    problem: str | None = None
    parsed: ParsedMessage | None = None

    @property
    def gateway_id(self) -> str:
        assert self.envelope is not None
        return self.envelope.gateway_id

    def new_message(self) -> db.NewMessage:
        assert self.envelope is not None
        assert self.parsed is not None
        envelope = self.envelope
        return db.NewMessage(
            gateway_id=envelope.gateway_id,
            mail_from=envelope.mail_from,
            rcpt_to=envelope.rcpt_to,
            submitted_by=envelope.submitted_by,
            raw=self.raw,
            parsed=self.parsed,
        )


class Consumer:
    """Connects (and reconnects) to the broker and stores delivered messages in batches.

    Deliveries queue up in ``_pending``; one batcher task stores everything pending in one
    transaction, acknowledges after COMMIT, and starts over. A lone message is stored at
    once; under load the next batch fills while the current one commits, so batches grow
    with the load and the prefetch bounds them.
    """

    def __init__(
        self, config: Config, *, pool: db.Pool, metrics: Metrics, events: EventPublisher
    ) -> None:
        self._config = config
        self._pool = pool
        self._metrics = metrics
        self._topology = Topology(config.queue_prefix)
        self._connection: AbstractRobustConnection | None = None
        self._declared: Declared | None = None
        self._events = events
        self._consumer_tag: ConsumerTag | None = None
        self._stopping = asyncio.Event()
        self._pending: list[_Delivery] = []
        self._arrived = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._batcher: asyncio.Task[None] | None = None
        self._committing: set[asyncio.Task[None]] = set()
        self._runner: asyncio.Task[None] | None = None
        self._commits = 0
        self._batch_size = 0
        # False once a delivery was left unacknowledged on purpose (see _ack_batch).
        self._acks_in_order = True

    @property
    def ready(self) -> bool:
        """Connected, with a consumer on the incoming queue."""
        connection = self._connection
        # A robust connection is not "closed" while it reconnects; `connected` tells.
        return (
            connection is not None
            and not connection.is_closed
            and connection.connected.is_set()
            and self._consumer_tag is not None
            and not self._stopping.is_set()
        )

    @property
    def unsettled(self) -> int:
        """Messages received and neither acknowledged nor given up yet."""
        return len(self._pending) + self._batch_size

    def start(self) -> None:
        self._runner = asyncio.create_task(self._connect(), name="mailstore-consumer-connect")
        self._batcher = asyncio.create_task(self._run_batches(), name="mailstore-consumer-batches")

    async def stop(self, *, grace: float) -> None:
        """Stop taking messages, let the ones received finish (bounded), close. Idempotent."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        if self._runner is not None:
            self._runner.cancel()
            await asyncio.gather(self._runner, return_exceptions=True)
        if self._declared is not None and self._consumer_tag is not None:
            # Bounded by hand too: on a robust channel whose connection is down, the call
            # would otherwise wait for a reconnection.
            try:
                async with asyncio.timeout(grace):
                    await self._declared.incoming.cancel(self._consumer_tag, timeout=grace)
            except (
                aiormq.exceptions.AMQPError,
                aio_pika.exceptions.ChannelInvalidStateError,
                TimeoutError,
                RuntimeError,
            ) as exc:
                log.warning("could not cancel the consumer cleanly: %s", exc)
        if self._pending or not self._idle.is_set():
            log.info("waiting for %d message(s) received", self.unsettled)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._drained(), grace)
        # Unacknowledged messages go back to the queue when the channel closes.
        if self._batcher is not None:
            self._batcher.cancel()
            await asyncio.gather(self._batcher, return_exceptions=True)
        committing = list(self._committing)
        for task in committing:
            task.cancel()
        await asyncio.gather(*committing, return_exceptions=True)
        if self._connection is not None:
            try:
                async with asyncio.timeout(grace):
                    await self._connection.close()
            except TimeoutError:
                log.warning("the broker connection did not close within %.1f s", grace)

    async def _drained(self) -> None:
        while self._pending or not self._idle.is_set():
            await self._idle.wait()
            await asyncio.sleep(0)

    async def _connect(self) -> None:
        # connect_robust reconnects by itself once connected, but its first connection
        # attempt raises like any other: retry that until the broker answers.
        delay = OUTAGE_BACKOFF_START
        while True:
            try:
                self._connection = await aio_pika.connect_robust(self._config.amqp_url)
                break
            except (OSError, aiormq.exceptions.AMQPError) as exc:
                log.warning("broker unavailable (%s); retrying in %.1f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, BROKER_BACKOFF_CAP)
        channel = await self._connection.channel(publisher_confirms=True, on_return_raises=True)
        await channel.set_qos(prefetch_count=self._config.prefetch)
        self._declared = await declare_topology(channel, self._topology)
        # Events are hints (the web also polls): published on a channel of their own
        # without confirms, so that announcing a batch costs no round trips.
        events_channel = await self._connection.channel(publisher_confirms=False)
        self._events.attach(
            await events_channel.get_exchange(self._topology.events_exchange, ensure=False),
            await events_channel.get_exchange(self._topology.directory_exchange, ensure=False),
        )
        self._consumer_tag = await self._declared.incoming.consume(self._on_message)
        log.info("consuming %s (prefetch %d)", self._topology.incoming_queue, self._config.prefetch)

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        parcel, now = _Parcel(message), time.monotonic()
        try:
            deliveries = [
                _Delivery(parcel, now, raw, envelope) for envelope, raw in read_deliveries(message)
            ]
        except InvalidEnvelope as exc:
            deliveries = [_Delivery(parcel, now, message.body, problem=f"invalid envelope: {exc}")]
        parcel.unsettled = len(deliveries)
        self._pending.extend(deliveries)
        self._arrived.set()

    async def _run_batches(self) -> None:
        # Two stages: this loop reads and parses a batch while the previous one is in
        # the database, and each batch's commit task waits for its predecessor's, so
        # batches commit, and are acknowledged, strictly in the order they came.
        # At most one batch waits behind the one in the database: taking the next one
        # only then lets batches grow with the load, as they do without the overlap.
        previous: asyncio.Task[None] | None = None
        while True:
            await self._arrived.wait()
            self._arrived.clear()
            while self._pending:
                if len(self._committing) >= 2:
                    await asyncio.wait(self._committing, return_when=asyncio.FIRST_COMPLETED)
                    continue
                batch = self._take_batch()
                self._idle.clear()
                self._batch_size += len(batch)
                valid = await self._guarded(self._prepare(batch), batch)
                previous = asyncio.create_task(self._commit_after(previous, batch, valid or []))
                self._committing.add(previous)
                previous.add_done_callback(self._committing.discard)

    async def _commit_after(
        self, previous: asyncio.Task[None] | None, batch: list[_Delivery], valid: list[_Delivery]
    ) -> None:
        try:
            if previous is not None:
                await asyncio.shield(previous)
            if valid:
                await self._guarded(self._commit(valid), batch)
        finally:
            self._batch_size -= len(batch)
            if self._batch_size == 0:
                self._idle.set()
            now = time.monotonic()
            for delivery in batch:
                self._metrics.latency.observe(now - delivery.arrived)

    async def _guarded(self, step: Awaitable[T], batch: list[_Delivery]) -> T | None:
        try:
            return await step
        except Exception:
            # The steps map every failure of the messages themselves; this is a bug of
            # ours or the broker connection failing mid-reply. What of the batch is not
            # settled yet goes back to the queue now: left unacknowledged, it would come
            # back only when the channel closes, which a healthy connection never does,
            # and the mail would wait for the next restart. REDELIVERY_LIMIT bounds the
            # loop; a redelivery stores nothing twice.
            log.exception("unexpected failure in a batch of %d; requeueing it", len(batch))
            self._acks_in_order = False
            await self._give_back([d.parcel for d in batch if d.parcel.unsettled > 0])
            return None

    def _take_batch(self) -> list[_Delivery]:
        """The oldest pending deliveries, up to BATCH_MAX messages or BATCH_MAX_BYTES."""
        size = 0
        count = 0
        for delivery in self._pending:
            if count == BATCH_MAX or (count and size + len(delivery.raw) > BATCH_MAX_BYTES):
                break
            size += len(delivery.raw)
            count += 1
        batch = self._pending[:count]
        del self._pending[:count]
        return batch

    async def _prepare(self, batch: list[_Delivery]) -> list[_Delivery]:
        """Read the envelopes and parse the bodies; the deliveries left to store."""
        valid = [delivery for delivery in batch if await self._admit(delivery)]
        for delivery in valid:
            delivery.parsed = await self._parse(delivery.raw)
        return valid

    async def _commit(self, valid: list[_Delivery]) -> None:
        """Store a prepared batch in one transaction, then acknowledge and announce it."""
        try:
            outcomes = await self._store([delivery.new_message() for delivery in valid])
        # The consumer's edge, like an HTTP error middleware: whatever a message does to
        # us must not stop the queue. One by one, the failing message is found and
        # dead-lettered while the rest of the batch is stored.
        except Exception:
            log.exception("storing a batch of %d failed; storing them one by one", len(valid))
            for delivery in valid:
                await self._handle_alone(delivery)
            return
        if outcomes is None:
            # Stopping during an outage: left unacknowledged, so redelivered later.
            self._acks_in_order = False
            return
        self._metrics.batch_size.observe(len(valid))
        self._after_commit_fault()
        await self._ack_parcels(_settle(valid))
        self._record(valid, outcomes)
        await self._announce(valid, outcomes)

    async def _admit(self, delivery: _Delivery) -> bool:
        """Dead-letter what breaks the contract or keeps coming back; True for the rest."""
        if delivery.problem is not None:
            await self._dead_letter(delivery, delivery.problem)
            return False
        deliveries = delivery_count(delivery.parcel.message)
        if deliveries >= REDELIVERY_LIMIT:
            reason = f"delivered {deliveries} times without being acknowledged"
            await self._dead_letter(delivery, reason)
            return False
        return True

    async def _handle_alone(self, delivery: _Delivery) -> None:
        new = delivery.new_message()
        attempt = 0
        while True:
            try:
                outcomes = await self._store([new])
                break
            except Exception as exc:
                log.exception("%s: storing failed", new.gateway_id)
                # An error of a kind DATABASE_OUTAGE does not list, while the database is
                # down, is the outage's fault and not the message's: it costs no attempt.
                if await self._database_answers():
                    attempt += 1
                if attempt >= MAX_ATTEMPTS:
                    await self._dead_letter(delivery, f"{type(exc).__name__}: {exc}")
                    return
                await asyncio.sleep(RETRY_DELAY * (attempt + 1))
        if outcomes is None:
            self._acks_in_order = False
            return
        self._after_commit_fault()
        await self._ack_parcels(_settle([delivery]), alone=True)
        self._record([delivery], outcomes)
        await self._announce([delivery], outcomes)

    async def _store(self, messages: list[db.NewMessage]) -> list[db.StoreOutcome] | None:
        """Store in one transaction, holding the messages while the database is away."""
        delay = OUTAGE_BACKOFF_START
        while True:
            try:
                return await db.store_messages(self._pool, messages)
            except Exception as exc:
                if not is_outage(exc):
                    raise
                if self._stopping.is_set():
                    return None
                self._metrics.database_retries.inc()
                log.warning(
                    "%d message(s) from %s: database unavailable (%s: %s); holding them, "
                    "retry in %.1f s",
                    len(messages),
                    messages[0].gateway_id,
                    type(exc).__name__,
                    exc,
                    delay,
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), delay)
                delay = min(delay * 2, OUTAGE_BACKOFF_CAP)

    def _after_commit_fault(self) -> None:
        """The fault harness's hook: die between COMMIT and the acks (never set in use)."""
        self._commits += 1
        if self._config.fault_exit_after_commits == self._commits:
            log.critical("MAILSTORE_FAULT_EXIT_AFTER_COMMITS reached: exiting before the ack")
            os._exit(70)

    async def _database_answers(self) -> bool:
        # Any failure of a bare SELECT 1 is the database's or the connection's, not the
        # message's; one that escaped here would abandon the rest of its batch.
        try:
            async with asyncio.timeout(PING_TIMEOUT):
                await db.ping(self._pool)
        except Exception as exc:
            log.warning("the database does not answer a ping (%s: %s)", type(exc).__name__, exc)
            return False
        return True

    async def _parse(self, raw: bytes) -> ParsedMessage:
        if len(raw) > PARSE_IN_THREAD_BYTES:
            return await asyncio.to_thread(parse_message, raw)
        return parse_message(raw)

    async def _ack_parcels(self, parcels: list[_Parcel], *, alone: bool = False) -> None:
        """Acknowledge settled AMQP deliveries: one basic.ack with ``multiple`` when exact.

        ``multiple`` acknowledges every delivery tag up to the last one on its channel.
        That equals these deliveries only while every earlier one has been settled: the
        batcher takes deliveries in the order they came, so that holds until one is
        deliberately left unacknowledged; from then on, for messages of a channel before
        a reconnection, and for a delivery settled out of turn (``alone``: one stored
        alone or dead-lettered), each is acknowledged alone.
        """
        if not parcels:
            return
        last = parcels[-1].message
        if (
            not alone
            and self._acks_in_order
            and all(p.message.channel is last.channel for p in parcels)
        ):
            await self._ack(last, parcels[-1].label, multiple=True)
            return
        for parcel in parcels:
            await self._ack(parcel.message, parcel.label)

    async def _ack(
        self, message: AbstractIncomingMessage, label: str, *, multiple: bool = False
    ) -> None:
        try:
            await message.ack(multiple=multiple)
        except (aiormq.exceptions.AMQPError, aio_pika.exceptions.ChannelInvalidStateError) as exc:
            # Committed but not acknowledged: the broker redelivers, and the idempotent
            # insert turns the redelivery into a no-op.
            log.warning("%s: stored, but the ack failed (%s)", label, exc)

    def _record(self, batch: list[_Delivery], outcomes: list[db.StoreOutcome]) -> None:
        """Metrics and log of a committed batch: one line names everything stored."""
        stored: list[tuple[str, int]] = []
        folders: collections.Counter[str] = collections.Counter()
        for delivery, outcome in zip(batch, outcomes, strict=True):
            gateway_id = delivery.gateway_id
            if not outcome.stored:
                self._metrics.duplicates.inc()
                log.info("%s: already stored; redelivery acknowledged", gateway_id)
                continue
            error = delivery.parsed.error if delivery.parsed else None
            if error:
                self._metrics.parse_errors.inc()
                log.warning("%s: stored raw; parsing failed: %s", gateway_id, error)
            for address in outcome.without_account:
                log.warning("%s: stored, but %s has no account", gateway_id, address)
            stored.append((gateway_id, len(outcome.entries)))
            folders.update(entry.folder for entry in outcome.entries)
        self._metrics.stored.inc(len(stored))
        # A line per message cost more than storing it (docs/performance.md); this one is
        # only built when it is logged.
        if stored and log.isEnabledFor(logging.INFO):
            named = " ".join(f"{gateway_id}:{entries}" for gateway_id, entries in stored)
            log.info("%d stored (id:mailbox entries): %s", len(stored), named)
        for folder, count in folders.items():
            self._metrics.entries.labels(folder).inc(count)

    async def _announce(self, batch: list[_Delivery], outcomes: list[db.StoreOutcome]) -> None:
        """One ``stored`` event for the whole committed batch (docs/architecture.md).

        An event per entry cost the broker, the mail store and every web process a
        message each (docs/performance.md); one per transaction costs one.
        """
        await self._events.stored(
            (delivery.gateway_id, entry)
            for delivery, outcome in zip(batch, outcomes, strict=True)
            for entry in outcome.entries
        )

    async def _dead_letter(self, delivery: _Delivery, reason: str) -> None:
        """Publish a copy with the reason to the dead-letter exchange, then settle it.

        A mail message of a batch goes alone, in the single form, with its own envelope;
        anything else (a single-form message, a delivery that breaks the contract) goes
        as it came, its headers kept.
        """
        assert self._declared is not None
        parcel = delivery.parcel
        message = parcel.message
        envelope = delivery.envelope
        if envelope is not None and message.content_type == BATCH_CONTENT_TYPE:
            headers = single_form_headers(envelope)
            message_id: str | None = envelope.gateway_id
            content_type: str | None = CONTENT_TYPE
            label = envelope.gateway_id
        else:
            headers = dict(message.headers or {})
            message_id, content_type = message.message_id, message.content_type
            label = message.message_id or "(no id)"
        log.error("%s: dead-lettered: %s", label, reason)
        headers["x-localpost-error"] = reason[:2000]
        copy = aio_pika.Message(
            delivery.raw,
            headers=headers,
            message_id=message_id,
            content_type=content_type,
            timestamp=message.timestamp,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        )
        try:
            # Mandatory, with confirms: the original is acknowledged only once the copy is
            # safely in the dead-letter queue.
            await self._declared.dead.publish(
                copy, routing_key="", mandatory=True, timeout=PUBLISH_TIMEOUT
            )
        except PUBLISH_FAILED as exc:
            log.error("%s: dead-lettering failed (%s); requeueing it", label, exc)
            await self._give_back([parcel])
            return
        self._metrics.dead_lettered.inc()
        await self._ack_parcels(_settle([delivery]), alone=True)

    async def _give_back(self, parcels: list[_Parcel]) -> None:
        """Give AMQP deliveries back to the queue, whatever else of them is stored
        already (a redelivery stores nothing twice), after one pause: a failure that
        repeats at once would otherwise spin through the queue."""
        self._acks_in_order = False
        parcels = list(dict.fromkeys(p for p in parcels if not p.requeued))
        if not parcels:
            return
        for parcel in parcels:
            parcel.requeued = True
        await asyncio.sleep(RETRY_DELAY)
        for parcel in parcels:
            # A closed channel requeues the message just the same.
            with contextlib.suppress(
                aiormq.exceptions.AMQPError, aio_pika.exceptions.ChannelInvalidStateError
            ):
                await parcel.message.nack(requeue=True)


def _settle(deliveries: list[_Delivery]) -> list[_Parcel]:
    """Count these mail messages as done; the AMQP deliveries now complete, in order."""
    complete = []
    for delivery in deliveries:
        parcel = delivery.parcel
        parcel.unsettled -= 1
        if parcel.unsettled == 0 and not parcel.requeued:
            complete.append(parcel)
    return complete
