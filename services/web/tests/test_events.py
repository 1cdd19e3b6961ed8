"""The EventHub's record of the live channel, without a broker."""

from __future__ import annotations

import asyncio
from typing import Any

from webmail.events import QUEUE_SIZE, EventHub


def drain(queue: asyncio.Queue[dict[str, Any]]) -> list[dict[str, Any]]:
    items = []
    while not queue.empty():
        items.append(queue.get_nowait())
    return items


def test_a_new_hub_is_down() -> None:
    hub = EventHub()

    assert hub.up is False
    assert hub.state is None


def test_a_change_of_state_wakes_every_open_stream() -> None:
    hub = EventHub()
    streams = [hub.subscribe("a@localpost.test"), hub.subscribe("b@localpost.test")]

    hub.set_up(True)
    hub.set_up(False)

    assert [drain(q) for q in streams] == [[{"event": "up"}, {"event": "down"}]] * 2


def test_the_same_state_again_wakes_nobody() -> None:
    hub = EventHub()
    queue = hub.subscribe("a@localpost.test")

    hub.set_up(False)
    hub.set_up(True)
    hub.set_up(True)

    assert drain(queue) == [{"event": "up"}]


def test_each_time_the_channel_comes_up_is_a_new_generation() -> None:
    # A stream that slept through a down-and-up must still see that it missed events.
    hub = EventHub()

    hub.set_up(True)
    first = hub.state
    hub.set_up(False)
    hub.set_up(True)

    assert first is not None
    assert hub.state == first + 1
    assert hub.connects == 2


def test_a_full_queue_is_not_overfilled_by_a_state_change() -> None:
    hub = EventHub()
    queue = hub.subscribe("a@localpost.test")
    for n in range(QUEUE_SIZE):
        hub.publish({"event": "stored", "account": "a@localpost.test", "id": n})

    hub.set_up(True)

    assert queue.qsize() == QUEUE_SIZE
    assert hub.up is True


def test_a_closed_stream_is_not_woken() -> None:
    hub = EventHub()
    queue = hub.subscribe("a@localpost.test")
    hub.unsubscribe("a@localpost.test", queue)

    hub.set_up(True)

    assert queue.empty()
