"""Bounded CPU work (bcrypt): a few threads, a bounded queue, and a quick "no" past it.

Each password check used to take a thread of the default executor of its own, so a
burst of logins ran side by side and shared the CPUs: on a loaded machine every check
slowed down together until each took seconds, past its caller's deadline, and the
work was wasted. Here at most ``workers`` checks run at once (one per CPU: bcrypt
releases the GIL, so more threads only split the same CPUs), up to ``max_waiting``
more wait their turn in order, and any beyond that are refused at once with
:class:`~mailstore.errors.Overloaded` (503 with Retry-After), which the gateway
answers as its temporary 454 and the web as "try again soon".
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from mailstore.errors import Overloaded
from mailstore.metrics import Metrics

T = TypeVar("T")

# Seconds a refused caller is told to wait. A full queue drains in about
# max_waiting / workers checks (8 x 0.25 s = 2 s at the defaults on an idle machine).
RETRY_AFTER = 2


class CpuLimiter:
    """Runs blocking functions on ``workers`` threads, at most ``max_waiting`` queued."""

    def __init__(self, *, workers: int, max_waiting: int, metrics: Metrics) -> None:
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bcrypt")
        self._slots = asyncio.Semaphore(workers)
        self._capacity = workers + max_waiting
        self._waiting = 0
        self._running = 0
        self._metrics = metrics
        metrics.password_checks.labels(state="waiting").set_function(lambda: self._waiting)
        metrics.password_checks.labels(state="running").set_function(lambda: self._running)

    @property
    def waiting(self) -> int:
        return self._waiting

    @property
    def running(self) -> int:
        return self._running

    async def run(self, fn: Callable[[], T]) -> T:
        """``fn()`` on a worker thread; Overloaded when the queue is full."""
        if self._waiting + self._running >= self._capacity:
            self._metrics.password_refused.inc()
            raise Overloaded(retry_after=RETRY_AFTER)
        queued = time.monotonic()
        self._waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self._waiting -= 1
        started = time.monotonic()
        self._metrics.password_queue_latency.observe(started - queued)
        self._running += 1
        try:
            done = asyncio.wrap_future(self._executor.submit(fn))
        except RuntimeError:  # the executor was shut down: the app is stopping
            self._release(started)
            raise
        # The slot is freed when the thread finishes, not when the caller stops waiting:
        # a cancelled caller's bcrypt still holds its CPU until it ends.
        done.add_done_callback(functools.partial(self._finished, started))
        # shield: cancelling the caller must not cancel ``done``, whose callback frees
        # the slot only once the thread is really done.
        return await asyncio.shield(done)

    def close(self) -> None:
        """Stop taking work; checks still queued in the executor are cancelled."""
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _finished(self, started: float, _: asyncio.Future[T]) -> None:
        self._release(started)

    def _release(self, started: float) -> None:
        self._metrics.password_check_latency.observe(time.monotonic() - started)
        self._running -= 1
        self._slots.release()
