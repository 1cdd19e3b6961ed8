"""Reading a test's own queue without racing the publisher.

``Queue.get`` is AMQP's ``basic.get``: it answers at once, empty or not, and its
``timeout`` bounds only the round trip. A publisher without confirms (the mail store's
events, events.py) has its ``publish`` return once the frame is written, before the
broker has routed it, so a test that reads right after the HTTP reply can find the queue
still empty. These poll until a message arrives, or wait out a quiet period before
saying none did.
"""

from __future__ import annotations

import asyncio

from aio_pika.abc import AbstractIncomingMessage, AbstractQueue

POLL = 0.02


async def next_message(queue: AbstractQueue, timeout: float = 10.0) -> AbstractIncomingMessage:
    """The next message on ``queue`` (not acknowledged), waiting up to ``timeout``."""
    async with asyncio.timeout(timeout):
        # Polling, not a consumer: a consumer's prefetch would take later messages too,
        # which the next call must still find on the queue.
        while (message := await queue.get(fail=False, timeout=timeout)) is None:  # noqa: ASYNC110
            await asyncio.sleep(POLL)
    return message


async def nothing_more(queue: AbstractQueue, quiet: float = 0.5) -> AbstractIncomingMessage | None:
    """After ``quiet`` seconds, the message that arrived meanwhile, if any (None)."""
    await asyncio.sleep(quiet)
    return await queue.get(fail=False, timeout=5)
