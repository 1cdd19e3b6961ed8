"""Hands accepted mail to RabbitMQ and waits for the broker's confirm.

A 250 reply to DATA is a promise (RFC 5321 §6.1), so :meth:`Publisher.publish`
returns only once the broker confirmed a persistent, routed message; every other
outcome raises a :class:`~smtp_gateway.errors.PublishFailed`. Three aio-pika
defaults would break that promise and are overridden here: messages are transient
unless ``delivery_mode`` says otherwise, an unroutable message is returned rather
than raised unless the channel has ``on_return_raises``, and a robust connection
that is down makes a publish wait for the reconnection instead of failing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
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
    PublishTimeout,
)

log = logging.getLogger(__name__)

CONTENT_TYPE = "message/rfc822"
# Headers of the message contract in docs/architecture.md.
HEADER_MAIL_FROM = "x-localpost-mail-from"
HEADER_RCPT_TO = "x-localpost-rcpt-to"
HEADER_SUBMITTED_BY = "x-localpost-submitted-by"
# One connection attempt; the robust connection then retries every reconnect interval.
CONNECT_TIMEOUT = 10.0


class Publisher:
    """One robust broker connection with a confirming channel, for the process.

    :meth:`start` returns at once and connects in the background, so the gateway
    comes up (and reports "not ready") while the broker is still starting.
    """

    def __init__(
        self, url: str, prefix: str, *, publish_timeout: float, reconnect_interval: float
    ) -> None:
        self._url = url
        self._prefix = prefix
        self._publish_timeout = publish_timeout
        self._reconnect_interval = reconnect_interval
        self._connection: aio_pika.RobustConnection | None = None
        self._channel: AbstractRobustChannel | None = None
        self._exchange: AbstractExchange | None = None
        self._setup: asyncio.Task[None] | None = None

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
        exchange = self._exchange
        if exchange is None or not self.connected:
            # Fail fast: waiting for a reconnection would hold the client for the
            # whole timeout only to answer 451 anyway.
            raise BrokerUnavailable("no broker connection")
        recipients: list[FieldValue] = [*rcpt_to]
        headers: dict[str, FieldValue] = {HEADER_MAIL_FROM: mail_from, HEADER_RCPT_TO: recipients}
        if submitted_by is not None:
            headers[HEADER_SUBMITTED_BY] = submitted_by
        message = aio_pika.Message(
            body,
            message_id=message_id,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            content_type=CONTENT_TYPE,
            timestamp=datetime.now(UTC),
            headers=headers,
        )
        started = time.perf_counter()
        try:
            # The bound covers the wait for a channel as well as for the confirm.
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
        return time.perf_counter() - started


def _report_setup_failure(task: asyncio.Task[None]) -> None:
    # Without this, a bug in the set-up would only surface as "never ready".
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.error("broker set-up stopped; the gateway will not become ready", exc_info=exc)
