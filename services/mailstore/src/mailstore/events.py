"""Events on the fanout exchange ``<prefix>.events``: every committed change, as a hint.

Two kinds (docs/architecture.md has the contract): ``stored``, one per consumer batch,
and ``changed``, one per committed change of entries from any other path (the API's
read/unread, Trash, restore, delete, empty Trash; the maintenance task's purge). Every
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
