"""Events on the fanout exchange ``<prefix>.events``: every committed change, as a hint.

Three kinds (docs/architecture.md has the contract): ``stored``, one per consumer batch,
``changed``, one per committed change of entries from any other path (the API's
read/unread, Trash, restore, delete, empty Trash; the maintenance task's purge), and
``disabled``, when an administrator disabled an account (``announce``, from the
command that did it: the IMAP gateway ends the account's IMAP and POP3 sessions). Every
web process and every IMAP session on every replica binds its own queue to the
exchange, so each sees each event. Events are published after COMMIT, without
confirms, and are lost while the broker is away: a reader that missed some catches up
by reading the mail store (the web polls; IMAP compares MODSEQs).

The publisher is attached to the consumer's events channel once it is connected
(consumer.py); until then, and in an app that does not consume, publishing does nothing.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

import aio_pika
import aiormq
from aio_pika.abc import AbstractExchange

from mailstore import db
from mailstore.topology import Topology

log = logging.getLogger(__name__)

PUBLISH_TIMEOUT = 10.0
# A publish that did not reach the broker, or whose confirm did not come back in time.
PUBLISH_FAILED = (
    aiormq.exceptions.AMQPError,
    aio_pika.exceptions.ChannelInvalidStateError,
    TimeoutError,
)


class EventPublisher:
    """Publishes events on the exchange it is attached to; nothing while detached."""

    def __init__(self) -> None:
        self._exchange: AbstractExchange | None = None

    def attach(self, exchange: AbstractExchange | None) -> None:
        self._exchange = exchange

    async def changed(self, changes: list[db.Change], addresses: Mapping[int, str]) -> None:
        """One ``changed`` event for the changes of one committed transaction."""
        if not changes:
            return
        entries = [
            {
                "account": addresses[change.account_id],
                "id": change.entry_id,
                "folder_id": change.folder_id,
                "uid": change.uid,
                "modseq": change.modseq,
                "kind": change.kind,
            }
            for change in changes
        ]
        await self.publish({"event": "changed", "entries": entries})

    async def publish(self, event: dict[str, Any]) -> None:
        exchange = self._exchange
        if exchange is None:
            return
        message = aio_pika.Message(
            json.dumps(event).encode(),
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.NOT_PERSISTENT,
        )
        try:
            # Not mandatory: with nobody listening an event has nowhere to go, and that
            # is fine.
            await exchange.publish(
                message, routing_key="", mandatory=False, timeout=PUBLISH_TIMEOUT
            )
        except PUBLISH_FAILED as exc:
            log.warning(
                "%s event of %d entries not published: %s",
                event.get("event"),
                len(event.get("entries", [])),
                exc,
            )


# How long the admin command waits for the broker before it gives up on announcing.
ANNOUNCE_TIMEOUT = 10.0


async def announce(amqp_url: str, prefix: str, event: dict[str, Any]) -> bool:
    """Publish one event from a process that does not consume (``python -m mailstore
    admin disable``), with a connection of its own; False when the broker could not
    take it (or no mail store ever declared the exchange: nobody would hear it)."""
    try:
        connection = await aio_pika.connect(amqp_url, timeout=ANNOUNCE_TIMEOUT)
    except (*PUBLISH_FAILED, OSError) as exc:
        log.warning("%s event not announced: %r", event.get("event"), exc)
        return False
    async with connection:
        try:
            channel = await connection.channel()
            # Passive: the mail store declares it (topology.declare_topology).
            exchange = await channel.get_exchange(Topology(prefix).events_exchange, ensure=True)
            await exchange.publish(
                aio_pika.Message(json.dumps(event).encode(), content_type="application/json"),
                routing_key="",
                timeout=ANNOUNCE_TIMEOUT,
            )
        except (*PUBLISH_FAILED, OSError) as exc:
            log.warning("%s event not announced: %r", event.get("event"), exc)
            return False
    return True
