"""The live channel: this process's broker connection that feeds the EventHub.

The web serves pages without the broker (they poll), so :meth:`EventsConsumer.start`
returns at once and connects in the background, retrying every
``WEB_BROKER_RECONNECT_INTERVAL`` until the broker answers: restart policies start the
broker and the web together, and the broker answers last. Once consuming, the robust
connection reconnects by itself and restores the queue, its binding and the consumer;
its close and reconnect callbacks keep the hub's ``up`` state, which the pages, the
``/readyz`` body and the ``webmail_live_channel_up`` gauge read.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import aio_pika
from aio_pika.exceptions import CONNECTION_EXCEPTIONS
from yarl import URL

from webmail.events import EventHub
from webmail.metrics import Metrics

log = logging.getLogger(__name__)

# One connection attempt; the robust connection then retries every reconnect interval.
CONNECT_TIMEOUT = 10.0


class EventsConsumer:
    """One robust connection with an exclusive queue bound to ``<prefix>.events``."""

    def __init__(
        self,
        hub: EventHub,
        metrics: Metrics,
        *,
        url: str,
        prefix: str,
        reconnect_interval: float,
    ) -> None:
        self._hub = hub
        self._metrics = metrics
        self._url = url
        self._prefix = prefix
        self._reconnect_interval = reconnect_interval
        self._connection: aio_pika.RobustConnection | None = None
        self._setup: asyncio.Task[None] | None = None
        # Until the first set-up is done, a reconnection has nothing to restore.
        self._consuming = False

    def __repr__(self) -> str:
        # The URL may hold the broker password.
        return f"<EventsConsumer prefix={self._prefix!r} up={self._hub.up}>"

    def start(self) -> None:
        # fail_fast=False: the first attempt failing does not end the connection's own
        # retry loop, and a connection we own can be closed while it still retries.
        connection = aio_pika.RobustConnection(
            URL(self._url),
            reconnect_interval=self._reconnect_interval,
            fail_fast=False,
            client_properties={"connection_name": "web"},
        )
        connection.close_callbacks.add(self._closed)
        connection.reconnect_callbacks.add(self._reconnected)
        self._connection = connection
        self._setup = asyncio.create_task(self._set_up(connection), name="web-events-connect")
        self._setup.add_done_callback(_report_setup_failure)

    async def close(self) -> None:
        if self._setup is not None:
            self._setup.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._setup
        if self._connection is not None:
            await self._connection.close()
        self._set(up=False)

    async def _set_up(self, connection: aio_pika.RobustConnection) -> None:
        await connection.connect(timeout=CONNECT_TIMEOUT)
        while True:
            try:
                await self._consume(connection)
            except (*CONNECTION_EXCEPTIONS, TimeoutError) as exc:
                log.warning("binding the live updates queue failed, retrying: %r", exc)
                await asyncio.sleep(self._reconnect_interval)
                continue
            self._consuming = True
            self._set(up=True)
            log.info("live updates: consuming %s.events", self._prefix)
            return

    async def _consume(self, connection: aio_pika.RobustConnection) -> None:
        channel = await connection.channel()
        # The same declaration as the mail store's (mailstore/topology.py): durable fanout.
        exchange = await channel.declare_exchange(
            f"{self._prefix}.events", aio_pika.ExchangeType.FANOUT, durable=True
        )
        # Exclusive and auto-deleted: every replica sees every event, and the queue goes
        # with the process. The robust channel declares it again after a reconnection.
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(exchange)
        await queue.consume(self._hub.on_message, no_ack=True)

    def _closed(self, _connection: Any, exc: BaseException | None) -> None:
        if self._hub.up:
            log.warning("live updates down (broker connection lost: %r)", exc)
        self._set(up=False)

    def _reconnected(self, _connection: Any) -> None:
        # Called after the robust connection restored our channel, queue and consumer.
        if self._consuming:
            self._metrics.live_reconnects.inc()
            self._set(up=True)
            log.info("live updates back (broker reconnected)")

    def _set(self, *, up: bool) -> None:
        self._hub.set_up(up)
        self._metrics.live_channel_up.set(1 if up else 0)


def _report_setup_failure(task: asyncio.Task[None]) -> None:
    # Without this, a bug in the set-up would only surface as "live updates never up".
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.error("live updates set-up stopped; pages will poll", exc_info=exc)
