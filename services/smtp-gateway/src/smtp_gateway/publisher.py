"""Hands accepted mail to RabbitMQ and waits for the broker's confirm.

A 250 reply to DATA is a promise (RFC 5321 §6.1), so :meth:`Publisher.publish`
returns only once the broker confirmed a persistent, routed message; every other
outcome raises a :class:`~smtp_gateway.errors.PublishFailed`. Three aio-pika
defaults would break that promise and are overridden here: messages are transient
unless ``delivery_mode`` says otherwise, an unroutable message is returned rather
than raised unless the channel has ``on_return_raises``, and a robust connection
that is down makes a publish wait for the reconnection instead of failing.

Messages that arrive while MAX_IN_FLIGHT publishes await their confirms wait, and
go out together in the next one: one AMQP message carrying a batch (the contract's
batch form, docs/architecture.md). A lone message goes out at once, in the single
form; under load, batches grow with it. Per message, the broker, this process and
the mail store then pay for a share of one publish, confirm and delivery instead of
a whole one each (docs/performance.md).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import aio_pika
import aiormq
from aio_pika.abc import AbstractExchange, AbstractRobustChannel
from aio_pika.exceptions import CONNECTION_EXCEPTIONS, DeliveryError, PublishError
from aiormq.abc import FieldValue
from yarl import URL

from smtp_gateway import topology
from smtp_gateway.errors import (
    BrokerUnavailable,
    MessageNacked,
    MessageReturned,
    PublishFailed,
    PublishTimeout,
)

log = logging.getLogger(__name__)

CONTENT_TYPE = "message/rfc822"
# Headers of the message contract in docs/architecture.md.
HEADER_MAIL_FROM = "x-localpost-mail-from"
HEADER_RCPT_TO = "x-localpost-rcpt-to"
HEADER_SUBMITTED_BY = "x-localpost-submitted-by"
# The batch form: a JSON manifest of HEADER_MANIFEST octets, then the messages' bytes.
BATCH_CONTENT_TYPE = "application/x-localpost-batch"
HEADER_MANIFEST = "x-localpost-manifest"
# One connection attempt; the robust connection then retries every reconnect interval.
CONNECT_TIMEOUT = 10.0
# Publishes awaiting their confirm at once. While they are all out, new messages wait
# and leave together; more in flight means smaller batches and more broker work.
MAX_IN_FLIGHT = 1
# A batch holds at most this many messages and octets (one message larger than that
# goes alone): the mail store stores up to 64 per transaction, and a batch is settled
# as a whole, so a large one would hold many acknowledgements back.
BATCH_MAX = 64
BATCH_MAX_BYTES = 1024 * 1024


@dataclass(slots=True, eq=False)
class _Outgoing:
    """One accepted message waiting for the broker."""

    message_id: str
    body: bytes
    mail_from: str
    rcpt_to: list[str]
    submitted_by: str | None
    done: asyncio.Future[None]
    # Set when its client was answered 451 before it went out: it never will.
    abandoned: bool = False
    queued_at: float = field(default_factory=time.perf_counter)


class Publisher:
    """One robust broker connection with a confirming channel, for the process.

    :meth:`start` returns at once and connects in the background, so the gateway
    comes up (and reports "not ready") while the broker is still starting.
    """

    def __init__(
        self,
        url: str,
        prefix: str,
        *,
        publish_timeout: float,
        reconnect_interval: float,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        self._url = url
        self._prefix = prefix
        self._publish_timeout = publish_timeout
        self._reconnect_interval = reconnect_interval
        self._connection: aio_pika.RobustConnection | None = None
        self._channel: AbstractRobustChannel | None = None
        self._exchange: AbstractExchange | None = None
        self._setup: asyncio.Task[None] | None = None
        self._waiting: collections.deque[_Outgoing] = collections.deque()
        self._in_flight: set[asyncio.Task[None]] = set()
        # Told the number of messages of each confirmed AMQP message (the metrics).
        self._on_batch = on_batch

    def __repr__(self) -> str:
        # The URL may hold the broker password.
        return f"<Publisher prefix={self._prefix!r} connected={self.connected}>"

    @property
    def connected(self) -> bool:
        """Whether a publish can succeed now: connection up, topology declared."""
        connection, channel = self._connection, self._channel
        return (
            self._exchange is not None
            and connection is not None
            and connection.connected.is_set()
            and channel is not None
            and not channel.is_closed
        )

    async def start(self) -> None:
        # A connection object we own (rather than connect_robust's) can be closed while
        # its first attempt is still running, which stops its reconnection task too.
        self._connection = aio_pika.RobustConnection(
            URL(self._url),
            reconnect_interval=self._reconnect_interval,
            fail_fast=False,
            client_properties={"connection_name": "smtp-gateway"},
        )
        self._setup = asyncio.create_task(self._set_up(self._connection))
        self._setup.add_done_callback(_report_setup_failure)

    async def _set_up(self, connection: aio_pika.RobustConnection) -> None:
        await connection.connect(timeout=CONNECT_TIMEOUT)
        while True:
            try:
                channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
                exchange = await topology.declare(channel, self._prefix)
            except (*CONNECTION_EXCEPTIONS, TimeoutError) as exc:
                # A PRECONDITION_FAILED here means the queues exist with other
                # arguments (see topology.py); it will not heal, but the log says so.
                log.error("declaring the AMQP topology failed, retrying: %r", exc)
                await asyncio.sleep(self._reconnect_interval)
                continue
            # The robust channel re-declares this topology after each reconnection.
            self._channel, self._exchange = channel, exchange
            log.info("broker connected, topology %s.* declared", self._prefix)
            return

    async def close(self) -> None:
        if self._setup is not None:
            self._setup.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._setup
        # The listeners stopped first (main.py): let the last publishes finish.
        if self._in_flight:
            await asyncio.wait(self._in_flight, timeout=self._publish_timeout)
        if self._connection is not None:
            await self._connection.close()
        self._channel = self._exchange = None

    async def publish(
        self,
        *,
        message_id: str,
        body: bytes,
        mail_from: str,
        rcpt_to: list[str],
        submitted_by: str | None,
    ) -> float:
        """Publish one mail message and wait for its confirm; returns the latency.

        Raises a :class:`~smtp_gateway.errors.PublishFailed` subclass otherwise.
        """
        if self._exchange is None or not self.connected:
            # Fail fast: waiting for a reconnection would hold the client for the
            # whole timeout only to answer 451 anyway.
            raise BrokerUnavailable("no broker connection")
        item = _Outgoing(
            message_id,
            body,
            mail_from,
            rcpt_to,
            submitted_by,
            asyncio.get_running_loop().create_future(),
        )
        self._waiting.append(item)
        self._send_waiting()
        try:
            # The bound covers the wait for a place in a publish as well as the confirm.
            async with asyncio.timeout(self._publish_timeout):
                await item.done
        except TimeoutError:
            # Still waiting: it never goes out, so the 451 is the whole truth. Already
            # out: it may yet reach the queue (docs/architecture.md, step 1).
            item.abandoned = True
            raise PublishTimeout(f"no confirm within {self._publish_timeout} s") from None
        return time.perf_counter() - item.queued_at

    def _send_waiting(self) -> None:
        while self._waiting and len(self._in_flight) < MAX_IN_FLIGHT:
            batch = self._take_batch()
            if not batch:
                return
            task = asyncio.create_task(self._send(batch))
            self._in_flight.add(task)
            task.add_done_callback(self._sent)

    def _sent(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        self._send_waiting()

    def _take_batch(self) -> list[_Outgoing]:
        batch: list[_Outgoing] = []
        size = 0
        while self._waiting and len(batch) < BATCH_MAX:
            item = self._waiting[0]
            if item.abandoned:
                self._waiting.popleft()
                continue
            if batch and size + len(item.body) > BATCH_MAX_BYTES:
                break
            batch.append(self._waiting.popleft())
            size += len(item.body)
        return batch

    async def _send(self, batch: list[_Outgoing]) -> None:
        """Publish one AMQP message for ``batch`` and settle every message's future."""
        try:
            await self._confirmed(_amqp_message(batch))
        except PublishFailed as exc:
            for item in batch:
                if not item.done.done():
                    # One instance each: a shared one would gather every raiser's traceback.
                    item.done.set_exception(type(exc)(*exc.args))
            return
        except BaseException as exc:
            for item in batch:
                if not item.done.done():
                    item.done.set_exception(BrokerUnavailable(f"publish failed: {exc!r}"))
            raise
        if self._on_batch is not None:
            self._on_batch(len(batch))
        # One line per confirmed publish, not per message: a line each cost a tenth of a
        # message's CPU here (docs/performance.md). Every id stays in the log. The line is
        # only built when it is logged.
        if log.isEnabledFor(logging.INFO):
            log.info(
                "%d queued: %s",
                len(batch),
                "; ".join(
                    f"{item.message_id} from=<{item.mail_from}> size={len(item.body)}"
                    f" nrcpt={len(item.rcpt_to)}"
                    for item in batch
                ),
            )
        for item in batch:
            if not item.done.done():
                item.done.set_result(None)

    async def _confirmed(self, message: aio_pika.Message) -> None:
        exchange = self._exchange
        if exchange is None or not self.connected:
            raise BrokerUnavailable("no broker connection")
        try:
            async with asyncio.timeout(self._publish_timeout):
                confirm = await exchange.publish(
                    message, topology.INCOMING_ROUTING_KEY, mandatory=True
                )
        except TimeoutError:
            raise PublishTimeout(f"no confirm within {self._publish_timeout} s") from None
        except PublishError as exc:  # basic.return: a subclass of DeliveryError
            raise MessageReturned(f"returned by the broker: {exc}") from None
        except DeliveryError as exc:
            raise MessageNacked(f"refused by the broker: {exc}") from None
        except CONNECTION_EXCEPTIONS as exc:
            raise BrokerUnavailable(f"broker connection failed: {exc!r}") from None
        # on_return_raises turns a return into PublishError; anything but an ack here
        # would be a change in aio-pika, and is never taken for a confirm.
        if not isinstance(confirm, aiormq.spec.Basic.Ack):
            raise MessageNacked(f"unexpected publish result {type(confirm).__name__}")


def _amqp_message(batch: list[_Outgoing]) -> aio_pika.Message:
    """The contract's single form for one message, its batch form for several."""
    now = datetime.now(UTC)
    if len(batch) == 1:
        (item,) = batch
        recipients: list[FieldValue] = [*item.rcpt_to]
        headers: dict[str, FieldValue] = {
            HEADER_MAIL_FROM: item.mail_from,
            HEADER_RCPT_TO: recipients,
        }
        if item.submitted_by is not None:
            headers[HEADER_SUBMITTED_BY] = item.submitted_by
        return aio_pika.Message(
            item.body,
            message_id=item.message_id,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            content_type=CONTENT_TYPE,
            timestamp=now,
            headers=headers,
        )
    manifest = json.dumps(
        [
            {
                "id": item.message_id,
                "mail_from": item.mail_from,
                "rcpt_to": item.rcpt_to,
                "submitted_by": item.submitted_by,
                "size": len(item.body),
            }
            for item in batch
        ]
    ).encode()
    # Never a bare gateway id (aiormq would otherwise make up a UUID, which it needs to
    # match a basic.return): a mail store that predates the batch form dead-letters the
    # batch as an invalid envelope instead of storing it as one message.
    return aio_pika.Message(
        b"".join([manifest, *(item.body for item in batch)]),
        message_id=f"batch-{batch[0].message_id}",
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        content_type=BATCH_CONTENT_TYPE,
        timestamp=now,
        headers={HEADER_MANIFEST: len(manifest)},
    )


def _report_setup_failure(task: asyncio.Task[None]) -> None:
    # Without this, a bug in the set-up would only surface as "never ready".
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.error("broker set-up stopped; the gateway will not become ready", exc_info=exc)
