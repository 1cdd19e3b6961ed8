"""The commands-per-second limit of one session: a token bucket that delays, never refuses.

Pure bookkeeping with the time passed in, so it is tested without sockets; the
connection loop sleeps for what :meth:`CommandPace.delay` says before it runs the
next command (see :attr:`SessionSettings.commands_per_second` for why a delay).
"""

from __future__ import annotations


class CommandPace:
    """A burst of ``burst`` commands, then ``rate`` per second."""

    def __init__(self, *, rate: float, burst: int, now: float) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate and burst must be positive")
        self.rate = rate
        self.burst = float(burst)
        self._tokens = float(burst)
        self._since = now

    def delay(self, now: float) -> float:
        """Take a token for one command at ``now``: how long it must wait first (0: none).

        A command that has to wait still takes its token (the balance goes below
        zero), so commands queued behind it wait their turn, one each 1/rate s.
        """
        self._tokens = min(self.burst, self._tokens + (now - self._since) * self.rate)
        self._since = now
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate
