"""Debian's Chromium for the browser tests, headless, driven by Playwright.

Never ``playwright install``: the browser is Debian's (/usr/bin/chromium). Where it or
the playwright package is missing, :func:`missing` says why, and the tests skip.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.async_api import Browser

CHROMIUM = Path("/usr/bin/chromium")
# No sandbox: Chromium will not start one as root, and CI runs as root in a container.
# The rest keeps a test browser from talking to anything but our stack.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def missing() -> str | None:
    """None when the browser tests can run here, else the reason they cannot."""
    if not os.access(CHROMIUM, os.X_OK):
        return f"{CHROMIUM} is missing (Debian: apt-get install chromium)"
    if importlib.util.find_spec("playwright") is None:
        return "the playwright package is missing (make venv installs requirements-dev.txt)"
    return None


@contextlib.asynccontextmanager
async def launch() -> AsyncIterator[Browser]:
    """Headless Chromium for one module's tests."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        await chromium.close()
