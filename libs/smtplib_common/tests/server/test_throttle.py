"""AuthFailures: the server-wide record of failed AUTHs per peer, as pure logic.

The clock is an argument, so the window is tested with made-up times.
"""

from __future__ import annotations

import pytest

from smtplib_common.server.throttle import AuthFailures, peer_key

WINDOW = 60.0


def tracker(limit: int = 3, max_peers: int = 100) -> AuthFailures:
    return AuthFailures(limit=limit, window=WINDOW, max_peers=max_peers)


def test_peer_is_throttled_at_the_limit_not_before() -> None:
    failures = tracker(limit=3)
    for t in (0.0, 1.0):
        failures.record("192.0.2.1", t)
    assert not failures.throttled("192.0.2.1", 2.0)
    failures.record("192.0.2.1", 2.0)
    assert failures.throttled("192.0.2.1", 3.0)


def test_other_peers_are_not_affected() -> None:
    failures = tracker(limit=1)
    failures.record("192.0.2.1", 0.0)
    assert failures.throttled("192.0.2.1", 1.0)
    assert not failures.throttled("192.0.2.2", 1.0)
    assert not failures.throttled("2001:db8::1", 1.0)


def test_failures_leave_the_window_one_by_one() -> None:
    failures = tracker(limit=2)
    failures.record("192.0.2.1", 0.0)
    failures.record("192.0.2.1", 30.0)
    assert failures.throttled("192.0.2.1", WINDOW - 1)
    # The first failure has left the window, the second has not.
    assert not failures.throttled("192.0.2.1", WINDOW + 1)
    failures.record("192.0.2.1", WINDOW + 2)
    assert failures.throttled("192.0.2.1", WINDOW + 3)
    assert not failures.throttled("192.0.2.1", 30.0 + WINDOW + 1)


def test_a_peer_whose_failures_all_expired_is_forgotten() -> None:
    failures = tracker()
    failures.record("192.0.2.1", 0.0)
    assert len(failures) == 1
    assert not failures.throttled("192.0.2.1", WINDOW + 1)
    assert len(failures) == 0


def test_memory_is_bounded_and_the_least_recently_failing_peer_goes_first() -> None:
    failures = tracker(limit=1, max_peers=3)
    for i, ip in enumerate(["192.0.2.1", "192.0.2.2", "192.0.2.3"]):
        failures.record(ip, float(i))
    failures.record("192.0.2.1", 3.0)  # now the most recent
    failures.record("192.0.2.4", 4.0)  # evicts 192.0.2.2, the oldest
    assert len(failures) == 3
    assert failures.throttled("192.0.2.1", 5.0)
    assert not failures.throttled("192.0.2.2", 5.0)
    assert failures.throttled("192.0.2.3", 5.0)
    assert failures.throttled("192.0.2.4", 5.0)


def test_a_flood_of_failures_from_one_peer_keeps_only_limit_timestamps() -> None:
    failures = tracker(limit=3)
    for t in range(10_000):
        failures.record("192.0.2.1", float(t) / 1000)
    assert len(failures._failures["192.0.2.1"]) == 3


def test_ipv6_peers_count_per_64_and_mapped_ipv4_as_ipv4() -> None:
    failures = tracker(limit=2)
    failures.record("2001:db8:1:2::1", 0.0)
    failures.record("2001:db8:1:2:ffff::9", 1.0)
    assert failures.throttled("2001:db8:1:2::77", 2.0)
    assert not failures.throttled("2001:db8:1:3::1", 2.0)
    failures.record("::ffff:192.0.2.9", 0.0)
    failures.record("192.0.2.9", 1.0)
    assert failures.throttled("192.0.2.9", 2.0)


@pytest.mark.parametrize(
    ("ip", "key"),
    [
        ("192.0.2.1", "192.0.2.1"),
        ("2001:db8::1", "2001:db8::/64"),
        ("fe80::1%eth0", "fe80::/64"),
        ("::ffff:192.0.2.1", "192.0.2.1"),
        ("", ""),  # no peer address (a Unix socket): one shared key
    ],
)
def test_peer_key(ip: str, key: str) -> None:
    assert peer_key(ip) == key


def test_nonsense_limits_are_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        AuthFailures(limit=0, window=WINDOW, max_peers=1)
