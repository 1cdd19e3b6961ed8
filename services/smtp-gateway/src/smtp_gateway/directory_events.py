"""Hears the mail store's ``directory`` events and makes the directory forget its cache.

The directory caches each RCPT answer for ``GATEWAY_DIRECTORY_CACHE_TTL`` (30 s), so
that a busy gateway does not ask the mail store once per recipient. Without this, an
account an administrator disabled would still take mail for up to that long, and one
enabled again would be refused with a permanent 550 for as long. The mail store
publishes a ``directory`` event on the fanout exchange ``<prefix>.directory`` after
each committed change of who an address reaches (docs/architecture.md); each gateway
process binds an exclusive queue of its own to it, so every replica hears every event.

Events are hints, sent without confirms: while the broker is away none arrive, and the
TTL still bounds how long an answer is kept. Nothing here gates readiness: mail flows
the same with or without it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage
from aio_pika.exceptions import CONNECTION_EXCEPTIONS
from yarl import URL

from smtp_gateway import topology
from smtp_gateway.directory import Directory

log = logging.getLogger(__name__)

# One connection attempt; the robust connection then retries every reconnect interval.
CONNECT_TIMEOUT = 10.0


class DirectoryEvents:
    """One robust broker connection with an exclusive queue bound to
    ``<prefix>.directory``; :meth:`start` returns at once and connects in the background."""

    def __init__(
        self,
        directory: Directory,
        *,
        url: str,
        prefix: str,
        reconnect_interval: float,
        on_event: Callable[[], None] | None = None,
    ) -> None:
        self._directory = directory
        # Told of each event heard (the metrics).
        self._on_event = on_event
        self._url = url
        self._prefix = prefix
        self._interval = reconnect_interval
        self._connection: aio_pika.RobustConnection | None = None
        self._setup: asyncio.Task[None] | None = None
        # Whether events can arrive now; and how many were heard (for tests and logs).
        self.listening = False
        self.heard = 0

    def __repr__(self) -> str:
        # The URL may hold the broker password.
        return f"<DirectoryEvents prefix={self._prefix!r} listening={self.listening}>"

    def start(self) -> None:
        # fail_fast=False: a first attempt that fails does not end the retry loop.
        connection = aio_pika.RobustConnection(
            URL(self._url),
            reconnect_interval=self._interval,
            fail_fast=False,
            client_properties={"connection_name": "smtp-gateway-directory"},
        )
        connection.close_callbacks.add(self._closed)
        connection.reconnect_callbacks.add(self._reconnected)
        self._connection = connection
        self._setup = asyncio.create_task(self._set_up(connection), name="directory-events")

    async def close(self) -> None:
        if self._setup is not None:
            self._setup.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._setup
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await self._connection.close()
        self.listening = False

    async def _set_up(self, connection: aio_pika.RobustConnection) -> None:
        await connection.connect(timeout=CONNECT_TIMEOUT)
        while True:
            try:
                channel = await connection.channel()
                # The mail store's declaration (mailstore/topology.py): durable fanout.
                exchange = await channel.declare_exchange(
                    topology.Names.for_prefix(self._prefix).directory_exchange,
                    aio_pika.ExchangeType.FANOUT,
                    durable=True,
                )
                # Exclusive and auto-deleted: the queue goes with the process, and the
                # robust channel declares and binds it again after a reconnection.
                queue = await channel.declare_queue(exclusive=True, auto_delete=True)
                await queue.bind(exchange)
                await queue.consume(self._on_message, no_ack=True)
            except (*CONNECTION_EXCEPTIONS, TimeoutError) as exc:
                log.warning("binding the directory events queue failed, retrying: %r", exc)
                await asyncio.sleep(self._interval)
                continue
            self.listening = True
            log.info("directory events: consuming %s.directory", self._prefix)
            return

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        try:
            event = json.loads(message.body)
        except ValueError:
            event = None
        reason = event.get("reason") if isinstance(event, dict) else None
        # Whatever the body says, forgetting is always safe: the next RCPT asks again.
        dropped = self._directory.forget()
        self.heard += 1
        if self._on_event is not None:
            self._on_event()
        log.debug("directory changed (%s): %d cached answers dropped", reason, dropped)

    def _closed(self, _connection: Any, exc: BaseException | None) -> None:
        if self.listening:
            log.warning(
                "directory events down (broker connection lost: %r); cached answers expire"
                " by their TTL",
                exc,
            )
        self.listening = False

    def _reconnected(self, _connection: Any) -> None:
        # The robust connection restored the channel, queue and consumer. Events sent
        # while it was down are lost: forget now rather than keep answers they changed.
        if self._setup is not None and self._setup.done():
            self._directory.forget()
            self.listening = True
            log.info("directory events back (broker reconnected)")
