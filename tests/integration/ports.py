"""Free TCP ports for the processes the tests and benchmarks start.

A port found by binding to port 0 is an *ephemeral* one. Between closing it here and
the service binding it, any outgoing connection may take it as its source port: a
client reconnecting to a stopped broker makes many (a fault run once lost the web
this way, "address already in use"). Ports below the kernel's ephemeral range are
never handed out to outgoing connections, so they are picked from there.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
# How far below the ephemeral range to look; above the well-known ports either way.
SPAN = 12_000
_given: set[int] = set()


def free_port() -> int:
    """A port nothing listens on now, below the ephemeral range, not given out before."""
    low = _ephemeral_low()
    if low is None:  # not Linux: fall back to the kernel's choice
        return _bind(0)
    for _ in range(500):
        port = random.randrange(max(1024, low - SPAN), low)
        if port in _given:
            continue
        try:
            _bind(port)
        except OSError:
            continue
        _given.add(port)
        return port
    raise RuntimeError(f"no free port in {max(1024, low - SPAN)}-{low - 1}")


def _bind(port: int) -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
        return int(sock.getsockname()[1])


def _ephemeral_low() -> int | None:
    try:
        return int(EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
