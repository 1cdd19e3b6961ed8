"""Per-source limits, shared by every listener given the same :class:`PeerLimits`.

One address (an IPv4 address, an IPv6 /64: :func:`~smtplib_common.server.throttle.peer_key`)
may hold at most ``max_connections`` connections at once and open at most
``max_rate`` new ones per ``rate_window`` seconds, whichever listener it
reaches: a gateway with a delivery and a submission port passes one instance
to both, so the limits hold across them. Beyond either, the connection is
answered 421 4.7.0 and closed (RFC 5321 §3.8; RFC 3463 X.7.0 is a policy
refusal).

The tracker is also where every per-source refusal is reported, the session
limits' too (commands before MAIL, the minimum data rate): each refusal calls
``on_limit(limit)`` (the gateway counts it in /metrics), and is logged at most
once per source and limit every ``log_interval`` seconds with the number of
refusals left unlogged since, so a flood cannot flood the log.

Memory is bounded: open-connection counts exist only for sources with a
connection open (bounded by the listeners' ``max_connections``), and at most
``max_sources`` rate buckets and log entries are kept, the least recently seen
forgotten first (forgetting a bucket only forgives a source).
"""

from __future__ import annotations

import logging
import time
from collections import Counter, OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING

from smtplib_common import replies
from smtplib_common.replies import Reply
from smtplib_common.server.throttle import peer_key

if TYPE_CHECKING:
    from smtplib_common.server.config import ServerConfig

log = logging.getLogger(__name__)

# The names of the limits, as reported to ``on_limit`` (the gateway's metric label).
CONNECTIONS = "connections_per_source"
CONNECTION_RATE = "connection_rate"
COMMANDS_BEFORE_MAIL = "commands_before_mail"
MIN_DATA_RATE = "min_data_rate"
LIMITS = (CONNECTIONS, CONNECTION_RATE, COMMANDS_BEFORE_MAIL, MIN_DATA_RATE)


class PeerLimits:
    """Open connections and a token bucket of new connections per source."""

    def __init__(
        self,
        *,
        max_connections: int | None = 20,
        max_rate: int | None = 60,
        rate_window: float = 60.0,
        max_sources: int = 10_000,
        log_interval: float = 60.0,
        on_limit: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if (max_connections is not None and max_connections < 1) or (
            max_rate is not None and max_rate < 1
        ):
            raise ValueError("max_connections and max_rate must be positive (None: no limit)")
        if rate_window <= 0 or max_sources < 1 or log_interval < 0:
            raise ValueError("rate_window, max_sources and log_interval must be positive")
        self.max_connections = max_connections
        self.max_rate = max_rate
        self.rate_window = rate_window
        self._max_sources = max_sources
        self._log_interval = log_interval
        self._on_limit = on_limit
        self._clock = clock
        self._open: Counter[str] = Counter()
        # source -> (tokens, when they were counted); least recently seen first.
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        # (limit, source) -> [when last logged, refusals since]; least recent first.
        self._logged: OrderedDict[tuple[str, str], list[float]] = OrderedDict()

    @classmethod
    def from_config(
        cls, config: ServerConfig, *, on_limit: Callable[[str], None] | None = None
    ) -> PeerLimits:
        return cls(
            max_connections=config.max_connections_per_peer,
            max_rate=config.max_connection_rate_per_peer,
            rate_window=config.connection_rate_window,
            max_sources=config.tracked_peers,
            log_interval=config.limit_log_interval,
            on_limit=on_limit,
        )

    def open_connections(self, peer_ip: str) -> int:
        """Connections the source of ``peer_ip`` holds now, on every listener."""
        return self._open.get(peer_key(peer_ip), 0)

    @property
    def sources(self) -> int:
        """Sources with a connection open now."""
        return len(self._open)

    def admit(self, peer_ip: str) -> Reply | None:
        """Count a new connection from ``peer_ip``, or say why it is refused.

        A refused connection is not counted (it is closed at once) and costs no
        token: the bucket measures connections the source was given.
        """
        key = peer_key(peer_ip)
        if self.max_connections is not None and self._open[key] >= self.max_connections:
            self.refused(CONNECTIONS, peer_ip)
            return replies.TOO_MANY_CONNECTIONS_FROM_PEER
        if self.max_rate is not None and not self._take_token(key):
            self.refused(CONNECTION_RATE, peer_ip)
            return replies.CONNECTION_RATE_EXCEEDED
        self._open[key] += 1
        return None

    def release(self, peer_ip: str) -> None:
        """A connection :meth:`admit` counted has ended (whichever way)."""
        key = peer_key(peer_ip)
        self._open[key] -= 1
        if self._open[key] <= 0:
            del self._open[key]

    def refused(self, limit: str, peer_ip: str) -> None:
        """Report one refusal under ``limit``: counted always, logged once a period."""
        if self._on_limit is not None:
            self._on_limit(limit)
        now, key = self._clock(), (limit, peer_key(peer_ip))
        entry = self._logged.pop(key, None)
        if entry is not None and now - entry[0] < self._log_interval:
            entry[1] += 1
        else:
            unlogged = 0 if entry is None else int(entry[1])
            log.warning(
                "%s refused by the %s limit (%d more refusals unlogged since the last line)",
                key[1],
                limit,
                unlogged,
            )
            entry = [now, 0]
        self._logged[key] = entry
        while len(self._logged) > self._max_sources:
            self._logged.popitem(last=False)

    def _take_token(self, key: str) -> bool:
        assert self.max_rate is not None
        now, capacity = self._clock(), float(self.max_rate)
        tokens, since = self._buckets.pop(key, (capacity, now))
        tokens = min(capacity, tokens + (now - since) * capacity / self.rate_window)
        allowed = tokens >= 1.0
        self._buckets[key] = (tokens - 1.0 if allowed else tokens, now)
        while len(self._buckets) > self._max_sources:
            self._buckets.popitem(last=False)
        return allowed
