"""The event loop a Localpost process runs on: uvloop when installed, else asyncio's.

uvloop (the library's optional ``fast`` extra; a dependency of every service) runs the
same code with a cheaper loop and transports: docs/performance.md measures the difference.
"""

from __future__ import annotations

import asyncio


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
