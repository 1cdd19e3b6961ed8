"""IDLE (RFC 2177, RFC 9051 §6.3.13): updates as they happen until the client says DONE."""

from __future__ import annotations

import asyncio
import contextlib

from imap_gateway.session.answers import ok
from imap_gateway.session.errors import Answer, bad
from imap_gateway.session.state import Session
from imap_gateway.wire import commands as cmd
from imap_gateway.wire.parser import is_done


async def idle(s: Session, c: cmd.Idle) -> Answer:
    await s.out.continuation("idling")
    # RFC 2177 §3: a client re-issues IDLE within 29 minutes; the idle timeout ends it.
    deadline = s.loop_time() + s.settings.idle_timeout
    read = asyncio.ensure_future(s.reader.read_line(deadline=deadline))
    change: asyncio.Future[None] | None = None
    try:
        while True:
            await s.sync(expunges=True)
            await s.out.drain()
            if s.selected is None:
                await asyncio.wait({read})
                break
            change = asyncio.ensure_future(s.selected.feed.wait())
            done, _ = await asyncio.wait({read, change}, return_when=asyncio.FIRST_COMPLETED)
            if read in done:
                break
    finally:
        for task in (change, read):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
    line = read.result()
    if not is_done(line):
        raise bad("Expected DONE")
    return ok("IDLE terminated")
