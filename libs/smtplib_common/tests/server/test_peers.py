"""PeerLimits: connections per source, new connections per minute, and the
once-a-period log of refusals, as pure logic with a made-up clock.

The listener's use of it over real sockets (shared by two listeners, released
on every close path) is in test_peer_limits.py.
"""

from __future__ import annotations

import logging

import pytest

from smtplib_common import replies
from smtplib_common.server import ServerConfig
from smtplib_common.server.peers import (
    COMMANDS_BEFORE_MAIL,
    CONNECTION_RATE,
    CONNECTIONS,
    PeerLimits,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def limits(clock: Clock, **kwargs: object) -> tuple[PeerLimits, list[str]]:
    seen: list[str] = []
    options: dict[str, object] = {"max_connections": 3, "max_rate": None, **kwargs}
    return PeerLimits(on_limit=seen.append, clock=clock, **options), seen  # type: ignore[arg-type]


def test_a_source_past_its_open_connections_is_421_until_one_closes() -> None:
    tracker, seen = limits(Clock(), max_connections=3)
    assert [tracker.admit("192.0.2.1") for _ in range(3)] == [None] * 3

    assert tracker.admit("192.0.2.1") == replies.TOO_MANY_CONNECTIONS_FROM_PEER
    assert tracker.admit("192.0.2.2") is None  # another source is not affected
    tracker.release("192.0.2.1")
    assert tracker.admit("192.0.2.1") is None
    assert seen == [CONNECTIONS]
    assert tracker.open_connections("192.0.2.1") == 3


@pytest.mark.parametrize(
    ("first", "second", "same"),
    [
        ("2001:db8:1:2::1", "2001:db8:1:2:ffff::9", True),  # one /64
        ("2001:db8:1:2::1", "2001:db8:1:3::1", False),  # the next /64
        ("::ffff:192.0.2.1", "192.0.2.1", True),  # IPv4-mapped is IPv4
        ("192.0.2.1", "192.0.2.2", False),
    ],
)
def test_what_counts_as_one_source(first: str, second: str, same: bool) -> None:
    tracker, _ = limits(Clock(), max_connections=1)
    assert tracker.admit(first) is None

    refusal = tracker.admit(second)

    assert refusal == (replies.TOO_MANY_CONNECTIONS_FROM_PEER if same else None)


def test_every_connection_released_leaves_no_source_behind() -> None:
    tracker, _ = limits(Clock(), max_connections=2)
    for ip in ("192.0.2.1", "192.0.2.1", "2001:db8::1"):
        assert tracker.admit(ip) is None
    assert tracker.sources == 2
    for ip in ("192.0.2.1", "2001:db8::1", "192.0.2.1"):
        tracker.release(ip)
    assert tracker.sources == 0


def test_new_connections_past_the_rate_are_421_until_tokens_come_back() -> None:
    clock = Clock()
    tracker, seen = limits(clock, max_connections=None, max_rate=3, rate_window=60.0)
    for _ in range(3):  # a burst of max_rate at once
        assert tracker.admit("192.0.2.1") is None
        tracker.release("192.0.2.1")

    assert tracker.admit("192.0.2.1") == replies.CONNECTION_RATE_EXCEEDED
    assert tracker.admit("192.0.2.2") is None
    clock.now += 19.0  # 3 per 60 s: a token every 20 s
    assert tracker.admit("192.0.2.1") == replies.CONNECTION_RATE_EXCEEDED
    clock.now += 1.0
    assert tracker.admit("192.0.2.1") is None
    assert tracker.admit("192.0.2.1") == replies.CONNECTION_RATE_EXCEEDED
    assert seen == [CONNECTION_RATE] * 3


def test_refused_connections_cost_no_token() -> None:
    """A source at its open-connection cap that keeps knocking is refused for
    that cap, and may connect again at once when a connection closes."""
    tracker, seen = limits(Clock(), max_connections=1, max_rate=2)
    assert tracker.admit("192.0.2.1") is None
    for _ in range(5):
        assert tracker.admit("192.0.2.1") == replies.TOO_MANY_CONNECTIONS_FROM_PEER
    tracker.release("192.0.2.1")
    assert tracker.admit("192.0.2.1") is None
    assert seen == [CONNECTIONS] * 5


def test_rate_buckets_are_bounded_least_recently_seen_forgotten_first() -> None:
    clock = Clock()
    tracker, _ = limits(clock, max_connections=None, max_rate=1, max_sources=2)
    for ip in ("192.0.2.1", "192.0.2.2", "192.0.2.3"):
        assert tracker.admit(ip) is None
        tracker.release(ip)
    assert len(tracker._buckets) == 2
    assert tracker.admit("192.0.2.3") == replies.CONNECTION_RATE_EXCEEDED
    assert tracker.admit("192.0.2.1") is None  # forgotten, so forgiven


def test_refusals_are_counted_each_time_and_logged_once_a_period(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    tracker, seen = limits(clock, log_interval=60.0)
    with caplog.at_level(logging.WARNING, logger="smtplib_common.server.peers"):
        for _ in range(5):
            tracker.refused(COMMANDS_BEFORE_MAIL, "192.0.2.1")
        tracker.refused(COMMANDS_BEFORE_MAIL, "192.0.2.2")  # another source: its own line
        tracker.refused(CONNECTIONS, "192.0.2.1")  # another limit: its own line
        clock.now += 60.0
        tracker.refused(COMMANDS_BEFORE_MAIL, "192.0.2.1")

    assert seen == [COMMANDS_BEFORE_MAIL] * 6 + [CONNECTIONS, COMMANDS_BEFORE_MAIL]
    lines = [record.getMessage() for record in caplog.records]
    assert lines == [
        "192.0.2.1 refused by the commands_before_mail limit (0 more refusals unlogged"
        " since the last line)",
        "192.0.2.2 refused by the commands_before_mail limit (0 more refusals unlogged"
        " since the last line)",
        "192.0.2.1 refused by the connections_per_source limit (0 more refusals unlogged"
        " since the last line)",
        "192.0.2.1 refused by the commands_before_mail limit (4 more refusals unlogged"
        " since the last line)",
    ]


def test_an_ipv6_source_is_logged_as_its_64() -> None:
    tracker, _ = limits(Clock())
    tracker.refused(CONNECTIONS, "2001:db8:1:2::7")
    assert list(tracker._logged) == [(CONNECTIONS, "2001:db8:1:2::/64")]


def test_built_from_a_server_config() -> None:
    config = ServerConfig(
        hostname="mx.test",
        max_connections_per_peer=5,
        max_connection_rate_per_peer=7,
        connection_rate_window=30.0,
    )
    tracker = PeerLimits.from_config(config)
    assert (tracker.max_connections, tracker.max_rate, tracker.rate_window) == (5, 7, 30.0)


def test_defaults_are_safe_on_a_shared_network() -> None:
    config = ServerConfig(hostname="mx.test")
    assert config.max_connections_per_peer == 20
    assert config.max_connection_rate_per_peer == 60
    assert config.connection_rate_window == 60.0
    assert config.max_commands_before_mail == 20
    # The minimum data rate bites seconds into a transfer, not minutes.
    assert config.data_rate_grace == 10.0


@pytest.mark.parametrize(
    "field",
    ["max_connections_per_peer", "max_connection_rate_per_peer", "max_commands_before_mail"],
)
def test_a_limit_below_one_is_refused(field: str) -> None:
    with pytest.raises(ValueError, match=field):
        ServerConfig(hostname="mx.test", **{field: 0})  # type: ignore[arg-type]
