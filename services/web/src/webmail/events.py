"""Live updates: the mail store's ``stored`` events, fanned out to open pages.

Each web process binds an exclusive, auto-deleted queue of its own to the fanout
exchange ``<prefix>.events`` (docs/architecture.md), so every replica sees every
event, and the queue disappears with the process. An event lists the entries of one
committed batch, of any accounts; each open page gets the part for its account.
Events are hints: one that is lost only delays an update until the page's next poll.

The hub also knows whether this channel is up (connected and consuming; consumer.py
tells it) and wakes every open stream when that changes, so that pages poll while it
is down and catch up when it is back (views/live.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import defaultdict
from typing import Any

from aio_pika.abc import AbstractIncomingMessage

log = logging.getLogger(__name__)

# A page that stops reading loses events rather than growing memory without bound.
QUEUE_SIZE = 100


class EventHub:
    """Per account, the queues of the streams open for it in this process; and whether
    the live channel that feeds them is up."""

    def __init__(self) -> None:
        self._streams: dict[str, set[asyncio.Queue[dict[str, Any]]]] = defaultdict(set)
        self._up = False
        # Times the channel came up: a stream that saw another generation may have
        # missed events in between, even when it never saw the channel down.
        self.connects = 0

    @property
    def up(self) -> bool:
        return self._up

    @property
    def state(self) -> int | None:
        """The channel's generation while it is up, None while it is down."""
        return self.connects if self._up else None

    def set_up(self, up: bool) -> None:
        """Record the channel's state; on a change, wake every open stream."""
        if up == self._up:
            return
        self._up = up
        if up:
            self.connects += 1
        # The streams read the state itself (``state``): a wake-up lost to a full
        # queue is made up for by the events that filled it.
        self._broadcast({"event": "up" if up else "down"})

    def subscribe(self, account: str) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_SIZE)
        self._streams[account.lower()].add(queue)
        return queue

    def unsubscribe(self, account: str, queue: asyncio.Queue[dict[str, Any]]) -> None:
        streams = self._streams.get(account.lower())
        if streams is not None:
            streams.discard(queue)
            if not streams:
                del self._streams[account.lower()]

    def publish(self, event: dict[str, Any]) -> None:
        """Hand each account's entries of a ``stored`` event to that account's streams."""
        entries = event.get("entries")
        if entries is None:
            # A mail store from before batched events sends one entry per event.
            entries = [event]
        if not isinstance(entries, list):
            return
        mine: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for entry in entries:
            account = entry.get("account") if isinstance(entry, dict) else None
            if isinstance(account, str) and account.lower() in self._streams:
                mine[account.lower()].append(entry)
        for account, account_entries in mine.items():
            for queue in self._streams[account]:
                if not queue.full():
                    queue.put_nowait({"event": "stored", "entries": account_entries})

    def close_streams(self) -> None:
        """Ask every open stream to end (at shutdown: they would hold it up)."""
        self._broadcast({"event": "shutdown"})

    def _broadcast(self, event: dict[str, Any]) -> None:
        for streams in list(self._streams.values()):
            for queue in streams:
                if not queue.full():
                    queue.put_nowait(event)

    async def on_message(self, message: AbstractIncomingMessage) -> None:
        # no_ack consumption: an event is a hint, redelivering it would help nobody.
        try:
            event = json.loads(message.body)
        except ValueError:
            log.warning("ignored an event that is not JSON")
            return
        if isinstance(event, dict) and event.get("event") == "stored":
            self.publish(event)
