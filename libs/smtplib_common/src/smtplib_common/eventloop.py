"""The event loop a Localpost process runs on, and how its heap is settled after start-up.

uvloop (the library's optional ``fast`` extra; a dependency of every service) runs the
same code with a cheaper loop and transports: docs/performance.md measures the difference.
"""

from __future__ import annotations

import asyncio
import gc
from typing import Any


def new_event_loop(*, prefer_uvloop: bool = True) -> asyncio.AbstractEventLoop:
    """A new loop: uvloop's when ``prefer_uvloop`` and it is importable, else asyncio's."""
    if prefer_uvloop:
        try:
            import uvloop
        except ImportError:
            pass
        else:
            return uvloop.new_event_loop()
    return asyncio.new_event_loop()


async def freeze_startup_objects(app: Any) -> None:
    """Leave what start-up built out of garbage collection from now on (gc.freeze).

    An aiohttp ``on_startup`` handler (``app`` unused): appended after the cleanup
    contexts, it runs once everything is connected. A full collection walked every
    module, function and class loaded, 30 ms for 50,000 objects on the benchmark machine
    and up to 90 ms in the running web service, stalling every request in flight
    meanwhile (docs/performance.md).
    """
    gc.collect()
    gc.freeze()
