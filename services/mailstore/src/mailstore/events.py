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

A fourth kind, ``directory``, goes to a fanout exchange of its own,
``<prefix>.directory``: after any committed change that may change what the mail store
answers the gateway's RCPT check about some address (accounts made, deleted, disabled or
enabled, quotas, aliases, lists, catch-alls, an emptied Trash). Each SMTP gateway
process forgets its cached answers on hearing it, so that a disabled account is refused
at once rather than after the cache's TTL; a gateway that missed it still forgets within
``GATEWAY_DIRECTORY_CACHE_TTL``. An exchange of its own, so that the gateways never
receive the ``stored`` stream they have no use for.

The publisher is attached to the consumer's events channel once it is connected
(consumer.py); until then, and in an app that does not consume, publishing does nothing.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable, Mapping
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
        self._directory: AbstractExchange | None = None

    def attach(
        self, exchange: AbstractExchange | None, directory: AbstractExchange | None = None
    ) -> None:
        self._exchange = exchange
        self._directory = directory

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

    async def stored(self, entries: Iterable[tuple[str, db.NewEntry]]) -> None:
        """One ``stored`` event for the entries one transaction made, each with the id of
        the message it is an entry of (docs/architecture.md has the form)."""
        listed = [
            {
                "account": entry.address,
                "message_id": message_id,
                "id": entry.id,
                "folder": entry.folder,
                # What IMAP needs (EXISTS, CONDSTORE); "folder" is the folder's id.
                "uid": entry.uid,
                "modseq": entry.modseq,
            }
            for message_id, entry in entries
        ]
        if listed:
            await self.publish({"event": "stored", "entries": listed})

    async def delivered(self, changes: list[db.Change], address: str, message_id: str) -> None:
        """:meth:`stored` for mail put into a mailbox outside the consumer (an
        administrator delivering mail that reached nobody): the web's open pages take
        only ``stored`` events, and it is new mail to them as a delivery is."""
        await self.stored(
            (
                message_id,
                db.NewEntry(
                    id=change.entry_id,
                    address=address,
                    folder=change.folder_id,
                    uid=change.uid,
                    modseq=change.modseq,
                ),
            )
            for change in changes
            if change.kind == "exists" and change.uid is not None
        )

    async def publish(self, event: dict[str, Any]) -> None:
        await self._send(self._exchange, event)

    async def directory_changed(self, reason: str) -> None:
        """Tell the gateways that an address's RCPT answer may have changed: ``reason``
        (the API route that changed it) is for their logs."""
        await self._send(self._directory, directory_event(reason))

    async def _send(self, exchange: AbstractExchange | None, event: dict[str, Any]) -> None:
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


def directory_event(reason: str) -> dict[str, Any]:
    return {"event": "directory", "reason": reason}


async def announce(
    amqp_url: str,
    prefix: str,
    event: dict[str, Any],
    *,
    exchange_name: str | None = None,
    unheard_ok: bool = False,
) -> bool:
    """Publish one event from a process that does not consume (``python -m mailstore
    admin disable``), with a connection of its own, on ``<prefix>.events`` or
    ``exchange_name``; False when the broker could not take it, or when nobody ever
    declared the exchange (nobody would hear it) unless ``unheard_ok``."""
    try:
        connection = await aio_pika.connect(amqp_url, timeout=ANNOUNCE_TIMEOUT)
    except (*PUBLISH_FAILED, OSError) as exc:
        log.warning("%s event not announced: %r", event.get("event"), exc)
        return False
    async with connection:
        try:
            channel = await connection.channel()
            # Passive: the mail store declares it (topology.declare_topology).
            name = exchange_name or Topology(prefix).events_exchange
            exchange = await channel.get_exchange(name, ensure=True)
            await exchange.publish(
                aio_pika.Message(json.dumps(event).encode(), content_type="application/json"),
                routing_key="",
                timeout=ANNOUNCE_TIMEOUT,
            )
        except aiormq.exceptions.ChannelNotFoundEntity:
            if unheard_ok:
                return True
            log.warning("%s event not announced: no exchange %s", event.get("event"), name)
            return False
        except (*PUBLISH_FAILED, OSError) as exc:
            log.warning("%s event not announced: %r", event.get("event"), exc)
            return False
    return True


# What a command says when the broker did not take its ``directory`` event.
DIRECTORY_NOT_TOLD = (
    "the broker did not take the news; the SMTP gateways keep their cached answers"
    " for up to GATEWAY_DIRECTORY_CACHE_TTL (30 s by default)"
)


async def announce_directory(amqp_url: str, prefix: str, reason: str) -> bool:
    """:func:`announce` a ``directory`` event (a command changed an address's answer).
    No exchange is no failure: every gateway declares it when it starts, so nobody
    holds an answer to forget."""
    name = Topology(prefix).directory_exchange
    return await announce(
        amqp_url, prefix, directory_event(reason), exchange_name=name, unheard_ok=True
    )


async def tell_gateways(amqp_url: str, prefix: str, reason: str, *, command: str) -> None:
    """For a command that changed who an address reaches: announce it, and say on stderr
    (as ``command``) when the broker did not take it."""
    if not await announce_directory(amqp_url, prefix, reason):
        print(f"{command}: {DIRECTORY_NOT_TOLD}", file=sys.stderr)
