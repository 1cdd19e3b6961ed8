"""Failed AUTH attempts remembered across connections, per peer address.

``max_auth_failures`` ends one session after a few failures; a guessing client
simply reconnects. :class:`AuthFailures` is kept by the listener instead, so a
peer that failed ``limit`` times within ``window`` seconds is refused on every
connection until its older failures leave the window (RFC 4954 §4 lets a
server limit failures; §6 makes 454 4.7.0 the temporary refusal).

Pure bookkeeping with the clock passed in, so it is tested without sockets.
"""

from __future__ import annotations

import ipaddress
from collections import OrderedDict, deque


class AuthFailures:
    """A sliding window of failed AUTHs per peer, in bounded memory.

    Each peer keeps the times of at most its last ``limit`` failures (older
    ones cannot decide anything); at most ``max_peers`` peers are kept, and
    the one whose last failure is oldest is forgotten first. Memory is thus at
    most ``max_peers * limit`` timestamps, whatever an attacker does.

    A success does not clear a peer's failures: otherwise one valid account
    would let an attacker reset the count between guesses at another.
    """

    def __init__(self, *, limit: int, window: float, max_peers: int) -> None:
        if limit < 1 or window <= 0 or max_peers < 1:
            raise ValueError("limit, window and max_peers must be positive")
        self._limit = limit
        self._window = window
        self._max_peers = max_peers
        # Least recently failing first: eviction pops from the front.
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def __len__(self) -> int:
        """How many peers are remembered."""
        return len(self._failures)

    def throttled(self, peer_ip: str, now: float) -> bool:
        """Whether ``peer_ip`` has ``limit`` failures within the window ending at ``now``."""
        key = peer_key(peer_ip)
        times = self._failures.get(key)
        if times is None:
            return False
        while times and times[0] <= now - self._window:
            times.popleft()
        if not times:
            del self._failures[key]
            return False
        return len(times) >= self._limit

    def record(self, peer_ip: str, now: float) -> None:
        """Remember one failed AUTH from ``peer_ip`` at ``now``."""
        key = peer_key(peer_ip)
        times = self._failures.pop(key, None)
        if times is None:
            times = deque(maxlen=self._limit)
        times.append(now)
        self._failures[key] = times
        while len(self._failures) > self._max_peers:
            self._failures.popitem(last=False)


def peer_key(peer_ip: str) -> str:
    """What counts as one peer: an IPv4 address, or the /64 of an IPv6 address.

    An IPv6 host or site usually holds a whole /64 and can send from any
    address in it; counting addresses would give it 2**64 fresh starts. An
    IPv4-mapped IPv6 address counts as its IPv4 address.
    """
    try:
        ip = ipaddress.ip_address(peer_ip.split("%", 1)[0])
    except ValueError:
        return peer_ip
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)
