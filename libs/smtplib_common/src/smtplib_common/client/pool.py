"""``SMTPPool``: a few SMTP sessions shared by concurrent senders.

Sessions are opened lazily, up to ``max_size`` at once, and reused; one that
broke (closed, timed out, out of step) or sat idle too long is discarded when
it comes back or is taken, and a fresh one replaces it on demand::

    pool = SMTPPool(lambda: SMTPClient("mx.example.org", 25, starttls=True), max_size=4)
    async with pool.connection() as client:
        await client.send_message(...)
    await pool.send_message(...)            # the same, in one call
    await pool.close()
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from email.message import EmailMessage
from types import TracebackType
from typing import Self

from smtplib_common.client.connection import SMTPClient
from smtplib_common.client.transaction import SendResult
from smtplib_common.errors import SMTPError

__all__ = ["SMTPPool"]

log = logging.getLogger(__name__)

# Servers drop idle sessions after a few minutes (RFC 5321 §4.5.3.2.7 asks for
# at least 5); reusing one near that edge would just earn a 421, so we retire
# ours well before.
DEFAULT_MAX_IDLE = 60.0


class SMTPPool:
    """At most ``max_size`` clients from ``factory``, connected on first use."""

    def __init__(
        self,
        factory: Callable[[], SMTPClient],
        *,
        max_size: int = 4,
        max_idle: float = DEFAULT_MAX_IDLE,
    ) -> None:
        if max_size < 1:
            raise ValueError("max_size must be at least 1")
        self._factory = factory
        self.max_size = max_size
        self.max_idle = max_idle
        self._slots = asyncio.Semaphore(max_size)
        # LIFO: the most recently used session is the likeliest still alive.
        self._idle: list[tuple[SMTPClient, float]] = []
        self._in_use: set[SMTPClient] = set()
        self._closed = False

    def __repr__(self) -> str:
        return (
            f"<SMTPPool max_size={self.max_size} in_use={len(self._in_use)}"
            f" idle={len(self._idle)}{' closed' if self._closed else ''}>"
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def size(self) -> int:
        """Sessions open now, idle or in use."""
        return len(self._idle) + len(self._in_use)

    async def acquire(self) -> SMTPClient:
        """A connected client for this task alone; give it back with :meth:`release`."""
        if self._closed:
            raise RuntimeError("the pool is closed")
        await self._slots.acquire()
        try:
            client = await self._take_idle() or await self._open()
        except BaseException:
            self._slots.release()
            raise
        self._in_use.add(client)
        return client

    async def release(self, client: SMTPClient) -> None:
        """Return ``client``; it is kept only if it can serve the next sender."""
        self._in_use.discard(client)
        try:
            if self._closed or not client.is_reusable:
                await _discard(client)
            else:
                self._idle.append((client, time.monotonic()))
        finally:
            self._slots.release()

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[SMTPClient]:
        """``async with pool.connection() as client:`` for several commands in a row."""
        client = await self.acquire()
        try:
            yield client
        finally:
            await self.release(client)

    async def send_message(
        self,
        sender: str,
        recipients: str | Iterable[str],
        subject: str,
        body: str,
        *,
        cc: Iterable[str] = (),
        bcc: Iterable[str] = (),
        reply_to: str | None = None,
        headers: Mapping[str, str] | None = None,
        auth_address: str | None = None,
    ) -> SendResult:
        """:meth:`SMTPClient.send_message` on a pooled session."""
        async with self.connection() as client:
            return await client.send_message(
                sender,
                recipients,
                subject,
                body,
                cc=cc,
                bcc=bcc,
                reply_to=reply_to,
                headers=headers,
                auth_address=auth_address,
            )

    async def send_email(
        self,
        msg: EmailMessage,
        *,
        sender: str | None = None,
        recipients: Iterable[str] | None = None,
        auth_address: str | None = None,
    ) -> SendResult:
        """:meth:`SMTPClient.send_email` on a pooled session."""
        async with self.connection() as client:
            return await client.send_email(
                msg, sender=sender, recipients=recipients, auth_address=auth_address
            )

    async def close(self) -> None:
        """QUIT the idle sessions; those in use are closed when released."""
        self._closed = True
        idle, self._idle = self._idle, []
        await asyncio.gather(*(_discard(client) for client, _ in idle))

    async def _take_idle(self) -> SMTPClient | None:
        while self._idle:
            client, since = self._idle.pop()
            if client.is_reusable and time.monotonic() - since < self.max_idle:
                return client
            await _discard(client)
        return None

    async def _open(self) -> SMTPClient:
        client = self._factory()
        await client.connect()
        log.debug("pool opened a session to %s:%s", client.host, client.port)
        return client


async def _discard(client: SMTPClient) -> None:
    """QUIT if the session still works, then close it."""
    if client.is_reusable:
        try:
            await client.quit()
        except SMTPError as exc:
            log.debug("QUIT to %s failed: %s", client.host, exc)
    await client.close()
