"""The bcrypt limiter: work beyond the workers waits its turn, beyond the queue it is
refused, and a slot comes back however the work or its caller ends.

The jobs block on a ``threading.Event`` (a gate) instead of running bcrypt, so that
"running" and "waiting" are states the test holds still, not races it hopes to win.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterator

import pytest

from mailstore.errors import Overloaded
from mailstore.limiter import RETRY_AFTER, CpuLimiter
from mailstore.metrics import Metrics, create_metrics

TIMEOUT = 5.0


class Gate:
    """Jobs that block on a worker thread until ``open()``; ``opened`` counts them in."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.entered = 0

    def job(self, result: object) -> Callable[[], object]:
        def blocked() -> object:
            self.entered += 1
            if not self._event.wait(TIMEOUT):
                raise TimeoutError("the test never opened the gate")
            return result

        return blocked

    def open(self) -> None:
        self._event.set()


@pytest.fixture
def gate() -> Iterator[Gate]:
    gate = Gate()
    yield gate
    gate.open()  # never leave a worker thread blocked, whatever the test did


@pytest.fixture
def metrics() -> Metrics:
    return create_metrics()


@pytest.fixture
async def limiter(metrics: Metrics) -> AsyncIterator[CpuLimiter]:
    limiter = CpuLimiter(workers=1, max_waiting=2, metrics=metrics)
    yield limiter
    limiter.close()


async def settle(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(TIMEOUT):
        while not condition():  # noqa: ASYNC110 - a state of threads, not an event
            await asyncio.sleep(0.005)


def sample(metrics: Metrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


async def test_work_beyond_the_workers_waits_its_turn(
    limiter: CpuLimiter, gate: Gate, metrics: Metrics
) -> None:
    tasks = [asyncio.create_task(limiter.run(gate.job(n))) for n in range(3)]
    await settle(lambda: gate.entered == 1 and limiter.waiting == 2)

    assert (limiter.running, limiter.waiting) == (1, 2)
    assert sample(metrics, "mailstore_password_checks", state="running") == 1
    assert sample(metrics, "mailstore_password_checks", state="waiting") == 2
    gate.open()
    async with asyncio.timeout(TIMEOUT):
        assert await asyncio.gather(*tasks) == [0, 1, 2]
    assert (limiter.running, limiter.waiting) == (0, 0)
    assert sample(metrics, "mailstore_password_queue_seconds_count") == 3
    assert sample(metrics, "mailstore_password_check_seconds_count") == 3


async def test_work_beyond_the_queue_is_refused_at_once(
    limiter: CpuLimiter, gate: Gate, metrics: Metrics
) -> None:
    tasks = [asyncio.create_task(limiter.run(gate.job(n))) for n in range(3)]
    await settle(lambda: gate.entered == 1 and limiter.waiting == 2)

    with pytest.raises(Overloaded) as refused:
        await limiter.run(gate.job("one too many"))

    assert refused.value.retry_after == RETRY_AFTER
    assert sample(metrics, "mailstore_password_checks_refused_total") == 1
    gate.open()
    async with asyncio.timeout(TIMEOUT):
        await asyncio.gather(*tasks)
    # Room again once the queue has drained.
    assert await limiter.run(lambda: "after") == "after"


async def test_a_failing_job_gives_its_slot_back(limiter: CpuLimiter) -> None:
    def broken() -> None:
        raise ValueError("bcrypt said no")

    for _ in range(4):  # more than workers + max_waiting: each failure freed its slot
        with pytest.raises(ValueError, match="bcrypt said no"):
            await limiter.run(broken)

    assert (limiter.running, limiter.waiting) == (0, 0)
    assert await limiter.run(lambda: "still works") == "still works"


async def test_a_cancelled_waiter_leaves_the_queue(limiter: CpuLimiter, gate: Gate) -> None:
    running = asyncio.create_task(limiter.run(gate.job("running")))
    waiter = asyncio.create_task(limiter.run(gate.job("waiter")))
    await settle(lambda: gate.entered == 1 and limiter.waiting == 1)

    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter

    assert limiter.waiting == 0
    gate.open()
    async with asyncio.timeout(TIMEOUT):
        assert await running == "running"
    assert gate.entered == 1  # the cancelled one never ran
    assert limiter.running == 0


async def test_a_cancelled_caller_holds_the_slot_until_its_thread_ends(
    limiter: CpuLimiter, gate: Gate
) -> None:
    caller = asyncio.create_task(limiter.run(gate.job("abandoned")))
    await settle(lambda: gate.entered == 1)

    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    # The bcrypt is still burning its CPU: the next check must wait for it.
    assert limiter.running == 1
    after = asyncio.create_task(limiter.run(lambda: "next"))
    await settle(lambda: limiter.waiting == 1)

    gate.open()
    async with asyncio.timeout(TIMEOUT):
        assert await after == "next"
    await settle(lambda: limiter.running == 0)
